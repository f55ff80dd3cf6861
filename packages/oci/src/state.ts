/** The OCI state (runtime-spec "State") plus runc's extra fields that engines read. */
export interface State {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
  rootfs?: string;
  /** RFC 3339 time of create. */
  created?: string;
  owner?: string;
}
