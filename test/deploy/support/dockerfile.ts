/**
 * The Dockerfile as data (parsed by dockerfile-ast, the parser of the VS Code Docker
 * extension) and the rules that issue 14 broke, as a checker returning every violation.
 */
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import ignore from '@balena/dockerignore';

export interface Step {
  line: number;
  keyword: string;
  /** the arguments as one line (continuations joined) */
  text: string;
  flags: Record<string, string | null>;
  /** exec-form (JSON) arguments, or the shell-form words */
  words: string[];
}

export interface Stage {
  name: string;
  from: string;
  steps: Step[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM, with their defaults */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

function stepOf(i: Instruction): Step {
  const text = i.getArgumentsContent() ?? '';
  let words: string[];
  const trimmed = text.trim();
  const jsonPart = /^(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])$/.exec(trimmed);
  if (jsonPart) {
    try {
      words = JSON.parse(jsonPart[1]);
    } catch {
      words = trimmed.split(/\s+/);
    }
  } else {
    words = trimmed.split(/\s+/).filter(Boolean);
  }
  const flags: Record<string, string | null> = {};
  const withFlags = i as unknown as { getFlags?: () => Array<{ getName(): string; getValue(): string | null }> };
  for (const f of withFlags.getFlags?.() ?? []) flags[f.getName()] = f.getValue();
  // flags (--from=, --interval=) are not part of getArgumentsContent()
  return { line: i.getRange().start.line + 1, keyword: i.getKeyword().toUpperCase(), text, flags, words };
}

export function parseDockerfile(content: string): ParsedDockerfile {
  const d = DockerfileParser.parse(content);
  const result: ParsedDockerfile = { globalArgs: {}, stages: [] };
  let stage: Stage | undefined;
  for (const i of d.getInstructions()) {
    const step = stepOf(i);
    if (step.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(step.text.trim());
      stage = { name: m?.[2] ?? String(result.stages.length), from: m?.[1] ?? step.text, steps: [] };
      result.stages.push(stage);
    } else if (!stage) {
      if (step.keyword === 'ARG') {
        const [name, ...rest] = step.text.trim().split('=');
        result.globalArgs[name] = rest.length ? rest.join('=') : undefined;
      }
    } else {
      stage.steps.push(step);
    }
  }
  return result;
}

/** The image a FROM names, with ${ARG} defaults of the global ARGs substituted. */
export function resolveFrom(from: string, globalArgs: Record<string, string | undefined>): string {
  return from.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, name: string) => globalArgs[name] ?? `\${${name}}`);
}

const npmInstall = /\bnpm\s+(ci|install|i)\b/;

/** The npm install commands of a RUN line (in command position, not inside an echo). */
function npmInstalls(run: string): string[] {
  return run
    .split(/&&|\|\||;/)
    .map((c) => c.trim())
    .filter((c) => /^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*npm\s+(ci|install|i)\b/.test(c));
}

/**
 * Every broken rule, as "line N: what". `dockerignore` is the text of the .dockerignore
 * next to the build context, or undefined when there is none.
 */
export function dockerfileViolations(content: string, dockerignore: string | undefined): string[] {
  const out: string[] = [];
  const df = parseDockerfile(content);
  const final = df.stages[df.stages.length - 1];
  if (!final) return ['no FROM'];

  // multi-stage, production dependencies only in the final image
  if (df.stages.length < 2) out.push('single stage: dependencies are installed and built in the image that ships');
  const stageByName = new Map(df.stages.map((s) => [s.name, s]));
  const feedsFinal = new Set<Stage>([final]);
  for (const s of final.steps) {
    if (s.keyword === 'COPY' && s.flags.from && stageByName.has(s.flags.from)) feedsFinal.add(stageByName.get(s.flags.from) as Stage);
  }
  for (const stage of feedsFinal) {
    for (const s of stage.steps) {
      if (s.keyword === 'RUN' && npmInstalls(s.text).some((c) => !/--omit[= ]dev\b|--production\b/.test(c))) {
        out.push(`line ${s.line}: npm installs dev dependencies in stage "${stage.name}", which the final image copies from`);
      }
      if (s.keyword === 'RUN' && npmInstall.test(s.text) && /\|\|/.test(s.text)) {
        out.push(`line ${s.line}: npm install with a fallback (||): a failing production install must fail the build`);
      }
    }
  }

  // per-architecture native packages: the stage running npm takes the target's cpu
  for (const stage of df.stages) {
    const installs = stage.steps.filter((s) => s.keyword === 'RUN' && npmInstall.test(s.text));
    if (installs.length === 0) continue;
    const declaresTarget = stage.steps.some((s) => s.keyword === 'ARG' && /^TARGETARCH\b/.test(s.text.trim()));
    if (!declaresTarget) out.push(`stage "${stage.name}": npm installs native packages without ARG TARGETARCH`);
    for (const s of installs) {
      // npm_config_cpu=<something of TARGETARCH> (assignment or ENV), or --cpu <something of TARGETARCH>
      const fromTarget = /(?:\bnpm_config_cpu=|--cpu[= ])[^&;|\n]*TARGETARCH/;
      const cpuFromTarget = fromTarget.test(s.text);
      const envCpu = stage.steps.some((e) => e.keyword === 'ENV' && e.line < s.line && fromTarget.test(e.text));
      if (!cpuFromTarget && !envCpu) out.push(`line ${s.line}: npm install without npm_config_cpu/--cpu taken from TARGETARCH (.npmrc pins cpu=x64)`);
    }
  }

  // /data: created and owned by the service user before VOLUME, and that user runs the service
  const volumes = final.steps.filter((s) => s.keyword === 'VOLUME');
  const volumeStep = volumes.find((s) => s.words.some((w) => w.replace(/[",[\]]/g, '') === '/data'));
  const chownStep = final.steps.find((s) => s.keyword === 'RUN' && /\bmkdir\b[^&;]*\s\/data\b/.test(s.text) && /\bchown\s+(?:-\S+\s+)*(\S+)\s[^&;]*\/data\b/.test(s.text));
  const owner = chownStep ? /\bchown\s+(?:-\S+\s+)*(\S+)\s/.exec(chownStep.text)?.[1] : undefined;
  const users = final.steps.filter((s) => s.keyword === 'USER');
  const lastUser = users[users.length - 1];
  if (!volumeStep) out.push('final stage: no VOLUME /data');
  if (!chownStep) out.push('final stage: /data is never created and given to the service user (RUN mkdir ... && chown USER ... /data)');
  if (volumeStep && chownStep && volumeStep.line < chownStep.line) out.push(`line ${volumeStep.line}: VOLUME /data before /data is created and owned (line ${chownStep.line}): the ownership is discarded`);
  if (volumeStep && !chownStep) out.push(`line ${volumeStep.line}: VOLUME /data on a directory the service user does not own (EACCES)`);
  if (volumeStep) {
    for (const s of final.steps) {
      if (s.line > volumeStep.line && s.keyword === 'RUN' && /\s\/data\b/.test(s.text)) out.push(`line ${s.line}: changes /data after VOLUME: discarded`);
    }
  }
  if (!lastUser) out.push('final stage: no USER: the service runs as root');
  else {
    const user = lastUser.text.trim().split(':')[0];
    if (user === '0' || user === 'root') out.push(`line ${lastUser.line}: USER ${lastUser.text.trim()} is root`);
    if (chownStep && lastUser.line < chownStep.line) out.push(`line ${lastUser.line}: USER before the chown of /data (line ${chownStep.line}): the chown would run unprivileged`);
    const ownerUser = owner?.split(':')[0];
    if (ownerUser && ownerUser !== user) out.push(`line ${lastUser.line}: USER ${user} is not the owner given /data (${owner})`);
  }

  // the build context: COPY . . only with a .dockerignore that keeps the host's state out
  const copiesAll = df.stages.flatMap((st) => st.steps.filter((s) => (s.keyword === 'COPY' || s.keyword === 'ADD') && !s.flags.from && s.words.slice(0, -1).some((w) => w === '.' || w === './' || w === '*')));
  for (const s of copiesAll) {
    if (dockerignore === undefined) {
      out.push(`line ${s.line}: ${s.keyword} ${s.text} without a .dockerignore: copies node_modules, .git, .deltaflow`);
      continue;
    }
    const ig = ignore().add(dockerignore);
    for (const p of ['node_modules/x/index.js', 'apps/catalog/node_modules/x/index.js', '.git/HEAD', '.deltaflow/data/x', '.env']) {
      if (!ig.ignores(p)) out.push(`line ${s.line}: ${s.keyword} ${s.text} and .dockerignore lets ${p} in`);
    }
  }

  // health and signals
  const health = final.steps.filter((s) => s.keyword === 'HEALTHCHECK');
  if (health.length === 0 || /^NONE\b/i.test(health[health.length - 1].text.trim())) out.push('final stage: no HEALTHCHECK');
  const entry = final.steps.filter((s) => s.keyword === 'ENTRYPOINT').pop();
  if (!entry || !/(^|\/)(tini|dumb-init)$/.test(entry.words[0] ?? '')) out.push('final stage: PID 1 is not an init (tini): signals to node are not forwarded, zombies not reaped');
  return out;
}
