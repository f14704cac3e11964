export * from './dsid';
