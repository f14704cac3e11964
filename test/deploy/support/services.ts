/** The services deployed one container (Compose) or one workload (Kubernetes) each. */
export const SERVICES = ['nucleus-sim', 'change-logger', 'save-writer', 'dsim-builder', 'merge-engine', 'stream-multiplexer', 'scheduler', 'catalog', 'console'] as const;

/** The HTTP port every service listens on in a container (HTTP_PORT, /health and /metrics). */
export const HTTP_PORT = 8080;
