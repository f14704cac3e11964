/**
 * infra/k8s: every manifest valid for the Kubernetes API (kubernetes-models' validators and
 * type declarations), every service a workload with probes on /health, resources, no inline
 * secrets, the one image, the shared volumes; consistent with docker-compose.yml; and, where
 * kubectl is installed, built by kustomize as `kubectl apply -k` would.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, read } from './support/context';
import { resolvedCompose } from './support/compose';
import { type K8sObject, loadManifests, podSpecOf, typeCheckModels, validateModel, workloadViolations } from './support/k8s';
import { HTTP_PORT, SERVICES } from './support/services';

const BASE = path.join(ROOT, 'infra/k8s/base');
const OVERLAY = path.join(ROOT, 'infra/k8s/overlays/example');
const kustomization = YAML.parse(fs.readFileSync(path.join(BASE, 'kustomization.yaml'), 'utf8')) as { namespace: string; resources: string[]; images?: unknown };
const manifests = loadManifests(kustomization.resources.map((r) => path.join(BASE, r)));
const objects = manifests.map((m) => m.obj);
const byKindName = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const config = byKindName('ConfigMap', 'deltaflow-config') as K8sObject;
const compose = resolvedCompose(read('docker-compose.yml'), { POSTGRES_PASSWORD: 'p', DELTAFLOW_DB_PASSWORD: 'q' });

describe('infra/k8s/base: the Kubernetes API', () => {
  it('lists every manifest of the directory in kustomization.yaml', () => {
    const files = fs.readdirSync(BASE).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.namespace).toBe('deltaflow');
  });

  it('validates every object with kubernetes-models', () => {
    expect(objects.length).toBeGreaterThanOrEqual(17);
    expect(objects.map((o) => [o.kind, o.metadata.name, validateModel(o)]).filter(([, , err]) => err)).toEqual([]);
  });

  it('uses no field the API does not have (type-checked against the models, excess properties refused)', () => {
    expect(typeCheckModels(objects, ROOT)).toEqual([]);
  }, 60_000);

  it('the same checks refuse a misspelt field, a wrong type and a missing selector', () => {
    const d = structuredClone(byKindName('Deployment', 'catalog')) as K8sObject;
    d.spec.template.spec.containers[0].livenesProbe = d.spec.template.spec.containers[0].livenessProbe;
    delete d.spec.template.spec.containers[0].livenessProbe;
    d.spec.replicas = 'two';
    expect(typeCheckModels([d], ROOT).join('\n')).toMatch(/'"livenesProbe"' does not exist in type 'IContainer'/);
    expect(validateModel(d)).toMatch(/spec\/replicas must be integer/);
    delete d.spec.selector;
    expect(validateModel(d)).toMatch(/must have required property selector/);
    expect(workloadViolations(d, { httpPort: HTTP_PORT }).join('\n')).toMatch(/no livenessProbe/);
  }, 60_000);
});

describe('infra/k8s/base: the services', () => {
  it('has one workload per service: a StatefulSet for nucleus-sim (one writer of its database), Deployments for the rest', () => {
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual([...SERVICES].sort());
    for (const w of workloads) expect([w.metadata.name, w.kind]).toEqual([w.metadata.name, w.metadata.name === 'nucleus-sim' ? 'StatefulSet' : 'Deployment']);
  });

  it.each(SERVICES)('%s: probes on /health/live and /health/ready, resources, non-root, no inline secret', (name) => {
    const w = workloads.find((x) => x.metadata.name === name) as K8sObject;
    expect(workloadViolations(w, { httpPort: HTTP_PORT })).toEqual([]);
    const pod = podSpecOf(w)!;
    const [main] = pod.containers;
    expect(main.name).toBe(name);
    expect(main.env.find((e: any) => e.name === 'SERVICE')).toEqual({ name: 'SERVICE', value: name });
    expect(main.envFrom).toEqual([{ configMapRef: { name: 'deltaflow-config' } }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    expect(pod.automountServiceAccountToken).toBe(false);
    // the topics exist, with their partitions and retention, before the service starts
    expect(pod.initContainers?.map((c: any) => [c.name, c.env])).toEqual([['kafka-topics', [{ name: 'SERVICE', value: 'kafka-topics' }]]]);
    // a heap below the memory limit: V8 collects before the kernel kills
    const heap = Number(/--max-old-space-size=(\d+)/.exec(main.env.find((e: any) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
    const limitMi = Number(/^(\d+)Mi$/.exec(main.resources.limits.memory)?.[1] ?? Number(/^(\d+)Gi$/.exec(main.resources.limits.memory)?.[1]) * 1024);
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThanOrEqual(limitMi * 0.8);
  });

  it('runs every container from the one image, `deltaflow`, which an overlay points at a registry', () => {
    const images = new Set(workloads.flatMap((w) => [...(podSpecOf(w)!.initContainers ?? []), ...podSpecOf(w)!.containers].map((c: any) => c.image)));
    expect([...images]).toEqual(['deltaflow']);
    expect(kustomization.images).toBeUndefined();
  });

  it('commits no secret: no Secret object, DATABASE_URL from the Secret deltaflow-db, a ConfigMap without credentials', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const refs = workloads.flatMap((w) => podSpecOf(w)!.containers.flatMap((c: any) => (c.env ?? []).filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => [w.metadata.name, e.name, e.valueFrom.secretKeyRef])));
    const dbServices = Object.entries(compose.services).filter(([, s]) => s.environment?.DATABASE_URL).map(([n]) => n).sort();
    expect(refs.map(([n]) => n).sort()).toEqual(dbServices);
    for (const [, envName, ref] of refs) expect([envName, ref]).toEqual(['DATABASE_URL', { name: 'deltaflow-db', key: 'DATABASE_URL' }]);
    for (const [k, v] of Object.entries(config.data as Record<string, string>)) {
      expect([k, /PASSWORD|SECRET|TOKEN|DATABASE_URL/.test(k)]).toEqual([k, false]);
      expect([k, /:\/\/[^/\s:@]+:[^/\s@]+@/.test(v)]).toEqual([k, false]);
    }
  });

  it('mounts the shared ReadWriteMany volumes: data everywhere, tapes written by the stream multiplexer only', () => {
    for (const pvc of ['deltaflow-data', 'deltaflow-tapes']) expect(byKindName('PersistentVolumeClaim', pvc)?.spec.accessModes).toEqual(['ReadWriteMany']);
    const mounts = (name: string, vol: string) => {
      const pod = podSpecOf(workloads.find((w) => w.metadata.name === name)!)!;
      const claim = pod.volumes?.find((v: any) => v.persistentVolumeClaim?.claimName === vol);
      const m = claim && pod.containers[0].volumeMounts.find((x: any) => x.name === claim.name);
      return m ? `${m.mountPath}${m.readOnly ? ':ro' : ''}` : undefined;
    };
    // the console reads only Kafka and HTTP: no data volume
    for (const s of SERVICES) expect([s, mounts(s, 'deltaflow-data')]).toEqual([s, s === 'console' ? undefined : config.data.DELTAFLOW_DATA_DIR]);
    expect(Object.fromEntries(SERVICES.map((s) => [s, mounts(s, 'deltaflow-tapes')]).filter(([, m]) => m))).toEqual({
      'merge-engine': '/tapes:ro',
      'stream-multiplexer': config.data.SOV_VOLUME_DIR,
      catalog: '/tapes:ro',
    });
    // readOnlyRootFilesystem: /tmp is the only other writable place
    for (const w of workloads) expect(podSpecOf(w)!.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('gives every workload a Service on its http port; the StatefulSet its headless governing Service', () => {
    for (const w of workloads) {
      const svc = byKindName('Service', w.metadata.name) as K8sObject;
      expect(svc).toBeDefined();
      const podLabels = w.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(svc.spec.selector)) expect(podLabels[k]).toBe(v);
      expect(svc.spec.ports).toEqual([{ name: 'http', port: HTTP_PORT, targetPort: 'http' }]);
    }
    const sts = byKindName('StatefulSet', 'nucleus-sim') as K8sObject;
    expect(byKindName('Service', sts.spec.serviceName)?.spec.clusterIP).toBe('None');
  });

  it('sets replicas: the catalog 2, every other service 1 (scaled with kubectl scale)', () => {
    expect(Object.fromEntries(workloads.map((w) => [w.metadata.name, w.spec.replicas]))).toEqual({
      'nucleus-sim': 1,
      'change-logger': 1,
      'save-writer': 1,
      'dsim-builder': 1,
      'merge-engine': 1,
      'stream-multiplexer': 1,
      scheduler: 1,
      catalog: 2,
      console: 1,
    });
  });

  it('configures the services as docker-compose.yml does', () => {
    const c = compose.services.catalog.environment ?? {};
    for (const k of ['DELTAFLOW_DATA_DIR', 'SOV_VOLUME_DIR', 'HTTP_HOST', 'HTTP_PORT']) expect([k, config.data[k]]).toEqual([k, String(c[k])]);
    expect(config.data.DELTAFLOW_TOPIC_PARTITIONS).toBe(String(compose.services.kafka.environment?.KAFKA_NUM_PARTITIONS));
    expect(config.data.DELTAFLOW_BULK_RETENTION_MS).toBe(String(compose.services['kafka-topics'].environment?.DELTAFLOW_BULK_RETENTION_MS));
    const catalog = podSpecOf(workloads.find((w) => w.metadata.name === 'catalog')!)!.containers[0];
    expect(catalog.env.find((e: any) => e.name === 'CATALOG_HTTP_PORT')?.value).toBe(String(compose.services.catalog.environment?.CATALOG_HTTP_PORT));
  });
});

// kustomize itself, where kubectl is installed (it carries kustomize); otherwise said and skipped
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
if (kubectl.status !== 0) process.stderr.write('kubectl not found: the kustomize builds of infra/k8s are skipped\n');
(kubectl.status === 0 ? describe : describe.skip)('infra/k8s: kubectl kustomize', () => {
  const build = (dir: string) => {
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
    return YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
  };

  it('builds the base: every object in the deltaflow namespace, labelled part-of deltaflow', () => {
    const built = build(BASE);
    expect(built).toHaveLength(objects.length);
    for (const o of built) {
      if (o.kind !== 'Namespace') expect([o.kind, o.metadata.name, o.metadata.namespace]).toEqual([o.kind, o.metadata.name, 'deltaflow']);
      expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('deltaflow');
      if (podSpecOf(o)) expect(o.spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('deltaflow');
    }
    expect(built.map((o) => validateModel(o)).filter(Boolean)).toEqual([]);
  });

  it('builds the example overlay: image from the registry, Kafka address, storage class, catalog replicas', () => {
    const built = build(OVERLAY);
    const images = new Set(built.flatMap((o) => (podSpecOf(o) ? [...(podSpecOf(o)!.initContainers ?? []), ...podSpecOf(o)!.containers].map((c: any) => c.image) : [])));
    expect([...images]).toEqual(['registry.example.com/deltaflow:0.1.0']);
    expect(built.find((o) => o.kind === 'ConfigMap')?.data.KAFKA_BROKERS).toBe('my-cluster-kafka-bootstrap.kafka.svc:9092');
    expect(built.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.spec.storageClassName)).toEqual(['nfs-client', 'nfs-client']);
    expect(built.find((o) => o.kind === 'Deployment' && o.metadata.name === 'catalog')?.spec.replicas).toBe(3);
    expect(typeCheckModels(built, ROOT)).toEqual([]);
  }, 60_000);
});
