/**
 * What healthy Talos nodes log: kernel messages (veth/bridge churn from pod
 * starts, audit records from iptables, link state, cgroup notes, machined's
 * `[talos]` lines written to kmsg) and service lines shaped the way Talos
 * turns each service's own output into a record (see Talos
 * internal/app/machined/pkg/runtime/logging/extract.go: `ts`/`time` become
 * `talos-time`, `level` becomes `talos-level`, `err` is appended to `msg`
 * and raises the level to warn, everything else stays a field).
 *
 * Templates take an Rng so variable parts (veth names, pod names, durations)
 * differ between variants; the generator renders a pool of variants once.
 */
import type { GoJsonValue } from '../talos/go-json.js';
import type { Rng } from './rng.js';
import type { KernelFacility, KernelPriority, TalosLevel } from '../talos/format.js';

export interface KernelMessage {
  facility: KernelFacility;
  priority: KernelPriority;
  /** Message text without the trailing newline. */
  text: string;
}

export interface ServiceMessage {
  msg: string;
  level: TalosLevel;
  fields?: Record<string, GoJsonValue>;
  /** etcd/containerd timestamps carry ms (etcd) precision; kubelet's float ms gives ~ns digits. */
  timePrecision: 'ms' | 'ns';
}

export interface Weighted<T> {
  weight: number;
  make: (r: Rng, ctx: NodeContext) => T;
}

/** Per-node facts that make messages look like they came from one machine. */
export interface NodeContext {
  index: number;
  hostname: string;
  controlPlane: boolean;
}

const NAMESPACES = ['default', 'kube-system', 'monitoring', 'apps', 'ingress-nginx', 'cert-manager'];
const APPS = ['api', 'web', 'worker', 'redis', 'postgres', 'grafana', 'loki', 'vector', 'coredns', 'cilium'];

function podName(r: Rng): string {
  return `${r.pick(APPS)}-${r.hex(10).replace(/^./, (c) => (/[0-9]/.test(c) ? 'a' : c))}-${r.hex(5)}`;
}

function vethName(r: Rng): string {
  return `veth${r.hex(8)}`;
}

function durationString(r: Rng, minMs: number, maxMs: number): string {
  const us = r.range(minMs * 1000, maxMs * 1000);
  const ms = us / 1000;
  return ms >= 1000 ? `${(ms / 1000).toFixed(6).replace(/0+$/, '')}s` : `${ms.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}ms`;
}

const kern = (priority: KernelPriority, text: string): KernelMessage => ({ facility: 'kern', priority, text });

export const KERNEL_NORMAL: Weighted<KernelMessage>[] = [
  { weight: 6, make: (r) => kern('info', `cni0: port ${r.range(1, 40)}(${vethName(r)}) entered blocking state`) },
  { weight: 6, make: (r) => kern('info', `cni0: port ${r.range(1, 40)}(${vethName(r)}) entered disabled state`) },
  { weight: 6, make: (r) => kern('info', `cni0: port ${r.range(1, 40)}(${vethName(r)}) entered forwarding state`) },
  { weight: 4, make: (r) => kern('info', `device ${vethName(r)} entered promiscuous mode`) },
  { weight: 3, make: (r) => kern('info', `${vethName(r)}: entered promiscuous mode`) },
  { weight: 3, make: (r) => kern('info', `device ${vethName(r)} left promiscuous mode`) },
  { weight: 4, make: (r) => kern('info', `IPv6: ADDRCONF(NETDEV_CHANGE): ${vethName(r)}: link becomes ready`) },
  { weight: 2, make: (r) => kern('info', `eth0: renamed from tmp${r.range(10000, 99999)}`) },
  { weight: 1, make: () => kern('info', 'e1000e 0000:00:1f.6 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None') },
  { weight: 1, make: () => kern('info', 'IPv6: ADDRCONF(NETDEV_UP): eth0: link is not ready') },
  { weight: 1, make: () => kern('info', 'NET: Registered PF_PACKET protocol family') },
  {
    weight: 5,
    make: (r) =>
      kern('notice', `audit: type=1325 audit(${r.range(1_700_000_000, 1_800_000_000)}.${r.range(100, 999)}:${r.range(100, 99999)}): ` +
        `table=${r.pick(['filter', 'nat', 'mangle'])} family=${r.pick([2, 10])} entries=${r.range(4, 400)} op=xt_replace pid=${r.range(1000, 60000)} subj=kernel comm="iptables-restor"`),
  },
  {
    weight: 3,
    make: (r) =>
      kern('notice', `audit: type=1300 audit(${r.range(1_700_000_000, 1_800_000_000)}.${r.range(100, 999)}:${r.range(100, 99999)}): ` +
        `arch=c000003e syscall=54 success=yes exit=0 a0=4 a1=0 a2=40 a3=55d0${r.hex(8)} items=0 ppid=${r.range(1000, 9000)} pid=${r.range(1000, 60000)} ` +
        'auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="iptables" exe="/usr/sbin/xtables-nft-multi" subj=kernel key=(null)'),
  },
  { weight: 2, make: (r) => kern('info', `IPVS: rr: TCP 10.96.0.${r.range(1, 200)}:443 - no destination available`) },
  { weight: 1, make: () => kern('info', 'cgroup: cgroup: disabling cgroup2 socket matching due to net_prio or net_cls activation') },
  { weight: 1, make: (r) => kern('warning', `hrtimer: interrupt took ${r.range(100_000, 3_000_000)} ns`) },
  {
    weight: 2,
    make: (r) => kern('info', `xfs filesystem being remounted at /var/lib/kubelet/pods/${r.hex(8)}-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}-${r.hex(12)}/volume-subpaths/config/app/0 supports timestamps until 2038 (0x7fffffff)`),
  },
  { weight: 1, make: (r) => kern('warning', `TCP: request_sock_TCP: Possible SYN flooding on port ${r.pick([443, 6443, 10250])}. Sending cookies.  Check SNMP counters.`) },
  // A record with kmsg dictionary lines: they travel inside msg after real newlines.
  { weight: 1, make: () => kern('debug', 'pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00') },
  // machined mirrors its own log to kmsg with facility user.
  {
    weight: 3,
    make: (r) => ({ facility: 'user', priority: 'warning', text: `[talos] service[${r.pick(['kubelet', 'etcd', 'apid', 'trustd', 'containerd'])}](Running): Health check successful` }),
  },
  {
    weight: 1,
    make: (r) => ({ facility: 'user', priority: 'warning', text: `[talos] task startAllServices (1/1): waiting for ${r.range(1, 8)} services` }),
  },
];

const svc = (msg: string, level: TalosLevel, fields: Record<string, GoJsonValue> | undefined, timePrecision: 'ms' | 'ns' = 'ns'): ServiceMessage =>
  fields === undefined ? { msg, level, timePrecision } : { msg, level, fields, timePrecision };

export const SERVICE_CATALOG: Record<string, Weighted<ServiceMessage>[]> = {
  kubelet: [
    {
      weight: 6,
      make: (r) => svc('SyncLoop (probe)', 'info', { caller: 'kubelet/kubelet.go:2542', pod: `${r.pick(NAMESPACES)}/${podName(r)}`, probe: r.pick(['readiness', 'liveness', 'startup']), status: r.pick(['ready', '', 'started']), v: 1 }),
    },
    { weight: 3, make: (r) => svc('RemoveContainer', 'info', { caller: 'topologymanager/scope.go:110', containerID: r.hex(64), v: 0 }) },
    {
      weight: 2,
      make: (r) => {
        const slo = Math.round(r.next() * 20_000_000) / 1_000_000;
        return svc('Observed pod startup duration', 'info', {
          caller: 'pod_startup_latency_tracker.go:104', pod: `${r.pick(NAMESPACES)}/${podName(r)}`, podStartSLOduration: slo, podStartE2EDuration: `${slo}s`, v: 0,
        });
      },
    },
    {
      weight: 2,
      make: (r) => svc('Killing container with a grace period', 'info', {
        caller: 'kuberuntime/kuberuntime_container.go:779', pod: `${r.pick(NAMESPACES)}/${podName(r)}`, containerName: r.pick(APPS), containerID: `containerd://${r.hex(64)}`, gracePeriod: 30, v: 0,
      }),
    },
    {
      weight: 1,
      make: (r, ctx) => svc(`Failed creating a mirror pod for: pods "kube-controller-manager-${ctx.hostname}" already exists`, 'warn', {
        caller: 'kubelet/kubelet.go:1703', pod: `kube-system/kube-controller-manager-${ctx.hostname}`,
      }),
    },
    {
      weight: 2,
      make: (r) => {
        const app = r.pick(APPS);
        const pod = podName(r);
        return svc(`Error syncing pod, skipping: failed to "StartContainer" for "${app}" with CrashLoopBackOff: "back-off 5m0s restarting failed container=${app} pod=${pod}_default(${r.hex(8)}-${r.hex(4)})"`, 'warn', {
          caller: 'kubelet/pod_workers.go:1298', pod: `default/${pod}`, podUID: `${r.hex(8)}-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}-${r.hex(12)}`,
        });
      },
    },
    {
      weight: 1,
      make: (r) => svc(`Unable to fetch pod log stats: open /var/log/pods/default_${podName(r)}_${r.hex(8)}: no such file or directory`, 'warn', { caller: 'stats/cri_stats_provider.go:448', pod: `default/${podName(r)}` }),
    },
  ],
  etcd: [
    {
      weight: 4,
      make: (r) => svc('finished scheduled compaction', 'info', { caller: 'mvcc/kvstore_compaction.go:57', 'compact-revision': r.range(10_000, 9_000_000), took: durationString(r, 5, 80) }, 'ms'),
    },
    {
      weight: 3,
      make: (r) => svc('apply request took too long', 'warn', {
        caller: 'etcdserver/util.go:170', took: durationString(r, 100, 900), 'expected-duration': '100ms', prefix: 'read-only range ',
        request: `key:"/registry/pods/${r.pick(NAMESPACES)}/" range_end:"/registry/pods/${r.pick(NAMESPACES)}0" `, response: `range_response_count:${r.range(0, 40)} size:${r.range(100, 90000)}`,
      }, 'ms'),
    },
    { weight: 1, make: (r) => svc('slow fdatasync', 'warn', { caller: 'wal/wal.go:805', took: durationString(r, 1000, 3000), 'expected-duration': '1s' }, 'ms') },
    { weight: 2, make: (r) => svc('saved snapshot', 'info', { caller: 'etcdserver/server.go:2594', 'snapshot-index': r.range(100_000, 9_000_000) }, 'ms') },
    { weight: 2, make: (r) => svc('compact tree index', 'info', { caller: 'mvcc/index.go:214', revision: r.range(10_000, 9_000_000) }, 'ms') },
  ],
  containerd: [
    { weight: 3, make: (r) => svc('shim disconnected', 'info', { id: r.hex(64), namespace: 'k8s.io' }) },
    { weight: 3, make: (r) => svc('cleaning up after shim disconnected', 'warn', { id: r.hex(64), namespace: 'k8s.io' }) },
    { weight: 3, make: (r) => svc(`StartContainer for "${r.hex(64)}" returns successfully`, 'info', undefined) },
    {
      weight: 2,
      make: (r) => {
        const pod = podName(r);
        return svc(`RunPodSandbox for &PodSandboxMetadata{Name:${pod},Uid:${r.hex(8)}-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}-${r.hex(12)},Namespace:${r.pick(NAMESPACES)},Attempt:0,} returns sandbox id "${r.hex(64)}"`, 'info', undefined);
      },
    },
    { weight: 1, make: (r) => svc(`PullImage "registry.k8s.io/pause:3.9" returns image reference "sha256:${r.hex(64)}"`, 'info', undefined) },
    {
      weight: 1,
      make: (r) => svc(`ContainerStatus for "${r.hex(64)}" failed`, 'error', { error: `rpc error: code = NotFound desc = an error occurred when try to find container "${r.hex(64)}": not found` }),
    },
  ],
  machined: [
    {
      weight: 4,
      make: (r, ctx) => svc(`machined OK [/machine.MachineService/${r.pick(['Processes', 'Memory', 'Version', 'ServiceList'])}] ${durationString(r, 1, 40)} unary Success`, 'info', { 'node-name': ctx.hostname }),
    },
    {
      weight: 2,
      make: (r) => svc('reconfigured wireguard link', 'info', { component: 'controller-runtime', controller: 'network.LinkSpecController', link: 'kubespan', peers: r.range(1, 12) }),
    },
    {
      weight: 1,
      make: () => svc('controller failed', 'warn', { component: 'controller-runtime', controller: 'k8s.NodeStatusController', error: 'error watching node: an error on the server ("") has prevented the request from succeeding' }),
    },
    { weight: 2, make: (r) => svc(`[talos] service[${r.pick(['kubelet', 'etcd', 'apid', 'trustd'])}](Running): Health check successful`, 'info', undefined) },
  ],
  apid: [
    {
      weight: 1,
      make: (r) => svc(`apid OK [/machine.MachineService/${r.pick(['Version', 'Logs', 'Dmesg', 'Memory'])}] ${durationString(r, 1, 30)} unary Success (:authority=localhost;content-type=application/grpc;runtime=Talos;talos-role=os:admin;user-agent=grpc-go/1.64.0)`, 'info', undefined),
    },
  ],
  trustd: [
    { weight: 1, make: (r) => svc(`trustd OK [/securityapi.SecurityService/Certificate] ${durationString(r, 1, 20)} unary Success (:authority=10.5.0.${r.range(2, 250)}:50001;content-type=application/grpc;user-agent=grpc-go/1.64.0)`, 'info', undefined) },
  ],
  udevd: [
    { weight: 2, make: () => svc("Using default interface naming scheme 'v255'.", 'info', undefined) },
    { weight: 1, make: (r) => svc(`${vethName(r)}: Failed to get link config: No such device`, 'info', undefined) },
  ],
};

/** Share of service lines per service, for control-plane and worker nodes. */
export function serviceWeights(controlPlane: boolean): Record<string, number> {
  return controlPlane
    ? { kubelet: 35, containerd: 18, etcd: 20, machined: 14, apid: 6, trustd: 3, udevd: 4 }
    : { kubelet: 45, containerd: 25, machined: 18, apid: 7, udevd: 5 };
}
