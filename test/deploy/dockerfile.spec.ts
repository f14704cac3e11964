/**
 * infra/docker/Dockerfile against the rules issue 14 found broken, with the checker itself
 * shown to catch each fault in the Dockerfile it replaced and in targeted mutations.
 */
import { dockerfileViolations, parseDockerfile } from './support/dockerfile';
import { read } from './support/context';

const DOCKERFILE = read('infra/docker/Dockerfile');
const DOCKERIGNORE = read('.dockerignore');

/** infra/docker/Dockerfile as issue 14 found it. */
const ISSUE_14_DOCKERFILE = `FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY infra/tools ./infra/tools
RUN npm ci --omit=dev --no-audit --no-fund || npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production DELTAFLOW_DATA_DIR=/data
VOLUME /data
USER node
CMD ["sh", "-c", "exec node infra/launcher/bin/run-ts.js apps/\${SERVICE}/src/main.ts"]
`;

describe('infra/docker/Dockerfile', () => {
  const df = parseDockerfile(DOCKERFILE);
  const stage = (name: string) => {
    const s = df.stages.find((x) => x.name === name);
    if (!s) throw new Error(`no stage ${name}`);
    return s;
  };

  it('breaks none of the rules', () => {
    expect(dockerfileViolations(DOCKERFILE, DOCKERIGNORE)).toEqual([]);
  });

  it('installs production dependencies for TARGETARCH in a deps stage, and ships only them', () => {
    expect(df.stages.map((s) => s.name)).toEqual(['deps', 'runtime']);
    const install = stage('deps').steps.find((s) => s.keyword === 'RUN' && /npm ci/.test(s.text));
    expect(install?.text).toMatch(/npm_config_cpu="\$\(sh \/usr\/local\/bin\/npm-cpu "\$\{TARGETARCH:-\}"\)"/);
    expect(install?.text).toMatch(/npm ci --omit=dev/);
    expect(install?.text).not.toMatch(/\|\|/);
    // the target's SWC binding is loaded once at build time, on the target platform
    expect(stage('deps').steps.some((s) => s.keyword === 'RUN' && /require\('@swc\/core'\)\.transformSync/.test(s.text))).toBe(true);
    const runtime = stage('runtime');
    expect(runtime.steps.some((s) => s.keyword === 'RUN' && /\bnpm\b/.test(s.text))).toBe(false);
    expect(runtime.steps.filter((s) => s.flags.from).map((s) => [s.flags.from, s.words[0]])).toEqual([['deps', '/app/node_modules']]);
  });

  it('gives /data to uid 1000 before declaring it a volume, and runs the service as uid 1000', () => {
    const steps = stage('runtime').steps;
    const chown = steps.findIndex((s) => s.keyword === 'RUN' && /chown 1000:1000 \/data \/tapes/.test(s.text));
    const volume = steps.findIndex((s) => s.keyword === 'VOLUME');
    const user = steps.findIndex((s) => s.keyword === 'USER');
    expect(chown).toBeGreaterThan(-1);
    expect(volume).toBeGreaterThan(chown);
    expect(user).toBeGreaterThan(chown);
    expect(steps[volume].words).toEqual(['/data']);
    expect(steps[user].text.trim()).toBe('1000:1000');
  });

  it('sets the container defaults the services and the health check read', () => {
    const env = stage('runtime').steps.filter((s) => s.keyword === 'ENV').map((s) => s.text).join(' ');
    for (const kv of ['DELTAFLOW_DATA_DIR=/data', 'SOV_VOLUME_DIR=/tapes', 'HTTP_HOST=0.0.0.0', 'HTTP_PORT=8080', 'NODE_ENV=production']) expect(env).toContain(kv);
    const health = stage('runtime').steps.find((s) => s.keyword === 'HEALTHCHECK');
    expect(health?.words).toEqual(['node', '/app/infra/docker/healthcheck.js']);
    expect(health?.flags).toMatchObject({ interval: '15s', timeout: '5s', 'start-period': '60s', retries: '3' });
    const entry = stage('runtime').steps.find((s) => s.keyword === 'ENTRYPOINT');
    expect(entry?.words).toEqual(['/usr/bin/tini', '--', '/app/infra/docker/entrypoint.sh']);
    expect(stage('runtime').steps.some((s) => s.keyword === 'RUN' && /apt-get install .*\btini\b/.test(s.text))).toBe(true);
  });

  describe('the checker', () => {
    it("finds each of issue 14's faults in the Dockerfile it replaced", () => {
      const v = dockerfileViolations(ISSUE_14_DOCKERFILE, undefined).join('\n');
      expect(v).toMatch(/single stage/);
      expect(v).toMatch(/fallback/);
      expect(v).toMatch(/without ARG TARGETARCH/);
      expect(v).toMatch(/npm install without npm_config_cpu/);
      expect(v).toMatch(/VOLUME \/data on a directory the service user does not own/);
      expect(v).toMatch(/COPY \. \. without a \.dockerignore/);
      expect(v).toMatch(/no HEALTHCHECK/);
      expect(v).toMatch(/PID 1 is not an init/);
    });

    it('finds VOLUME /data declared before the chown', () => {
      const moved = DOCKERFILE.replace('VOLUME ["/data"]\n', '').replace('RUN mkdir -p /data /tapes', 'VOLUME ["/data"]\nRUN mkdir -p /data /tapes');
      expect(dockerfileViolations(moved, DOCKERIGNORE).join('\n')).toMatch(/VOLUME \/data before \/data is created and owned/);
    });

    it('finds USER placed before the chown, a root USER, and an owner that is not the USER', () => {
      const early = DOCKERFILE.replace('USER 1000:1000\n', '').replace('RUN mkdir -p /data /tapes', 'USER 1000:1000\nRUN mkdir -p /data /tapes');
      expect(dockerfileViolations(early, DOCKERIGNORE).join('\n')).toMatch(/USER before the chown/);
      expect(dockerfileViolations(DOCKERFILE.replace('USER 1000:1000', 'USER root'), DOCKERIGNORE).join('\n')).toMatch(/is root/);
      expect(dockerfileViolations(DOCKERFILE.replace('USER 1000:1000', 'USER 1001'), DOCKERIGNORE).join('\n')).toMatch(/not the owner given \/data/);
    });

    it('finds npm ci taking the build machine cpu, and dev dependencies shipped', () => {
      const noCpu = DOCKERFILE.replace(/npm_config_cpu="\$\(sh \/usr\/local\/bin\/npm-cpu "\$\{TARGETARCH:-\}"\)" \\\n && export npm_config_cpu \\\n/, '');
      expect(noCpu).not.toEqual(DOCKERFILE);
      expect(dockerfileViolations(noCpu, DOCKERIGNORE).join('\n')).toMatch(/npm install without npm_config_cpu/);
      const dev = DOCKERFILE.replace('&& npm ci --omit=dev --no-audit', '&& npm ci --no-audit');
      expect(dev).not.toEqual(DOCKERFILE);
      expect(dockerfileViolations(dev, DOCKERIGNORE).join('\n')).toMatch(/dev dependencies in stage "deps"/);
    });

    it('accepts COPY . . only with a .dockerignore keeping node_modules, .git, .deltaflow and .env out', () => {
      const all = DOCKERFILE.replace('COPY apps ./apps', 'COPY . .');
      expect(dockerfileViolations(all, DOCKERIGNORE)).toEqual([]);
      const v = dockerfileViolations(all, DOCKERIGNORE.replace(/^\*\*\/node_modules$/m, '').replace(/^\.git$/m, '')).join('\n');
      expect(v).toMatch(/lets node_modules\/x\/index\.js in/);
      expect(v).toMatch(/lets apps\/catalog\/node_modules\/x\/index\.js in/);
      expect(v).toMatch(/lets \.git\/HEAD in/);
      expect(dockerfileViolations(all, undefined).join('\n')).toMatch(/without a \.dockerignore/);
    });

    it('finds a missing HEALTHCHECK and a missing init', () => {
      const bare = DOCKERFILE.replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/, '').replace(/ENTRYPOINT[^\n]*\n/, 'ENTRYPOINT ["/app/infra/docker/entrypoint.sh"]\n');
      const v = dockerfileViolations(bare, DOCKERIGNORE).join('\n');
      expect(v).toMatch(/no HEALTHCHECK/);
      expect(v).toMatch(/PID 1 is not an init/);
    });
  });
});
