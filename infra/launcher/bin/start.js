#!/usr/bin/env node
// `npm start`: see infra/launcher/src/main.ts
require('./register');
require('../src/main.ts');
