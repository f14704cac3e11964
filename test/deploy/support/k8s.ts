/**
 * Kubernetes manifests as objects, validated two ways with kubernetes-models (the API's
 * OpenAPI schemas, as npm packages): its runtime validators (types, required fields,
 * formats), and its type declarations through the TypeScript compiler, whose excess-property
 * check on object literals refuses a field the API does not have (a typo like
 * `livenesProbe`, which the runtime validators let through, as the API server would drop it).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

/** Every document of the YAML files, with the file each came from. */
export function loadManifests(files: string[]): Array<{ file: string; obj: K8sObject }> {
  return files.flatMap((file) =>
    YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => !!o)
      .map((obj) => ({ file, obj })),
  );
}

/** The kubernetes-models module of an apiVersion/kind: 'apps/v1' + 'Deployment' -> 'kubernetes-models/apps/v1/Deployment'. */
export function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Runtime validation (kubernetes-models validate()): the error message, or undefined when valid. */
export function validateModel(obj: K8sObject): string | undefined {
  let mod: Record<string, new (o: unknown) => { validate(): void }>;
  try {
    mod = require(modelModule(obj.apiVersion, obj.kind));
  } catch {
    return `no model for ${obj.apiVersion} ${obj.kind}`;
  }
  try {
    new mod[obj.kind](obj).validate();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Type-checks each object as a literal of its kubernetes-models interface (I<Kind>); returns
 * the compiler's messages, each prefixed with the object's kind/name.
 */
export function typeCheckModels(objs: K8sObject[], root: string): string[] {
  const dir = path.join(root, 'test', 'deploy');
  const fileName = path.join(dir, '__k8s_manifests_check__.ts');
  const lines: string[] = [];
  objs.forEach((o, i) => {
    lines.push(`import type { I${o.kind} as T${i} } from '${modelModule(o.apiVersion, o.kind)}';`);
  });
  const starts: number[] = [];
  objs.forEach((o, i) => {
    starts.push(lines.join('\n').length);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (f) => (path.resolve(f) === fileName ? source : readFile(f));
  host.fileExists = (f) => path.resolve(f) === fileName || fileExists(f);
  host.getSourceFile = ((orig) => (f: string, lang: ts.ScriptTarget | ts.CreateSourceFileOptions, onError?: (m: string) => void) =>
    path.resolve(f) === fileName ? ts.createSourceFile(f, source, lang) : orig(f, lang, onError))(host.getSourceFile.bind(host));
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && path.resolve(d.file.fileName) === fileName)
    .map((d) => {
      const at = d.start ?? 0;
      let idx = 0;
      while (idx + 1 < starts.length && starts[idx + 1] <= at) idx++;
      const o = objs[idx];
      return `${o?.kind}/${o?.metadata?.name}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
}

export type PodSpec = { containers: any[]; initContainers?: any[]; volumes?: any[]; securityContext?: any; [k: string]: any };

export function podSpecOf(o: K8sObject): PodSpec | undefined {
  return o.spec?.template?.spec;
}

/** Env var names that carry a secret and must come from a Secret (valueFrom.secretKeyRef). */
export const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|DATABASE_URL|API_KEY|PRIVATE_KEY/i;
/** A value that looks like credentials: a URL with a password, a long random-looking string. */
export const SECRET_VALUE = /:\/\/[^/\s:@]+:[^/\s@]+@|^[A-Za-z0-9+/_-]{32,}={0,2}$/;

/** What a workload breaks of the rules for Deltaflow pods. */
export function workloadViolations(o: K8sObject, opts: { httpPort: number }): string[] {
  const out: string[] = [];
  const name = `${o.kind}/${o.metadata.name}`;
  const pod = podSpecOf(o);
  if (!pod) return [`${name}: no pod template`];
  if (!(o.spec.replicas >= 1)) out.push(`${name}: replicas must be set (>= 1)`);
  const podLabels = o.spec.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(o.spec.selector?.matchLabels ?? {})) if (podLabels[k] !== v) out.push(`${name}: selector ${k}=${v} does not match the pod labels`);
  if (pod.securityContext?.runAsNonRoot !== true) out.push(`${name}: pod securityContext.runAsNonRoot is not true`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const where = `${name} container ${c.name}`;
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) out.push(`${where}: no cpu and memory requests`);
    if (!c.resources?.limits?.memory) out.push(`${where}: no memory limit`);
    if (c.securityContext?.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
    for (const e of c.env ?? []) {
      if (SECRET_NAME.test(e.name) && !e.valueFrom?.secretKeyRef) out.push(`${where}: ${e.name} must come from a Secret (valueFrom.secretKeyRef)`);
      if (typeof e.value === 'string' && SECRET_VALUE.test(e.value)) out.push(`${where}: ${e.name} has what looks like a secret inline`);
    }
  }
  for (const c of pod.containers) {
    const where = `${name} container ${c.name}`;
    const port = (c.ports ?? []).find((p: any) => p.name === 'http');
    if (port?.containerPort !== opts.httpPort) out.push(`${where}: no port "http" on ${opts.httpPort}`);
    // liveness: GET /health/live, which never needs the token; readiness and start-up: /health/ready
    // through the image's healthcheck.js, which sends HTTP_TOKEN when one is set
    const live = c.livenessProbe;
    if (!live?.httpGet) out.push(`${where}: no livenessProbe (httpGet)`);
    else if (live.httpGet.path !== '/health/live' || (live.httpGet.port !== 'http' && live.httpGet.port !== opts.httpPort)) out.push(`${where}: livenessProbe is not GET /health/live on the http port`);
    for (const probe of ['readinessProbe', 'startupProbe']) {
      const cmd = c[probe]?.exec?.command;
      if (!Array.isArray(cmd)) out.push(`${where}: no ${probe} (exec)`);
      else if (cmd.join(' ') !== 'node /app/infra/docker/healthcheck.js /health/ready') out.push(`${where}: ${probe} is not healthcheck.js /health/ready`);
    }
  }
  return out;
}
