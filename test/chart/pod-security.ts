/**
 * The Pod Security Standards' `baseline` and `restricted` controls that a pod
 * spec can break, checked offline (the rules of
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/), so the
 * chart's claims hold: cluster mode and the test pod run under `restricted`,
 * node mode needs `privileged` only because of the host network (or hostPort).
 */
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';

/** Volume types `restricted` allows. */
const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

function containers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

/** Violations of `baseline`, as short strings. */
export function baselineViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  if (pod.hostNetwork) out.push('hostNetwork');
  if (pod.hostPID) out.push('hostPID');
  if (pod.hostIPC) out.push('hostIPC');
  for (const v of pod.volumes ?? []) if (v.hostPath) out.push(`hostPath volume ${v.name}`);
  for (const c of containers(pod)) {
    if (c.securityContext?.privileged) out.push(`${c.name}: privileged`);
    for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== 0) out.push(`${c.name}: hostPort ${p.hostPort}`);
    const allowed = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
    for (const cap of c.securityContext?.capabilities?.add ?? []) if (!allowed.includes(cap)) out.push(`${c.name}: capability ${cap}`);
  }
  return out;
}

/** Violations of `restricted` (which includes `baseline`). */
export function restrictedViolations(pod: IPodSpec): string[] {
  const out = baselineViolations(pod);
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name')!;
    if (!RESTRICTED_VOLUMES.includes(type)) out.push(`volume ${v.name}: ${type}`);
  }
  const podNonRoot = pod.securityContext?.runAsNonRoot === true;
  const podSeccomp = pod.securityContext?.seccompProfile?.type;
  for (const c of containers(pod)) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation not false`);
    if (!(sc.runAsNonRoot === true || (sc.runAsNonRoot === undefined && podNonRoot))) out.push(`${c.name}: runAsNonRoot`);
    if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${c.name}: capabilities not dropping ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') out.push(`${c.name}: adds ${cap}`);
  }
  return [...new Set(out)];
}
