/**
 * Kernel message sequences for injected failures, in the printk formats of
 * current kernels (drivers/nvme/host/pci.c, block/blk-core.c, fs/btrfs,
 * drivers/scsi/scsi_transport_iscsi.c, mm/oom_kill.c, kernel/hung_task.c,
 * kernel/watchdog.c, kernel/rcu/tree_stall.h, arch/x86/mm/fault.c,
 * net/netfilter/nf_conntrack_core.c, net/core/dev.c). Older wordings live in
 * the rule-library fixtures; the generator only needs one realistic form.
 */
import type { KernelMessage } from './catalog.js';
import type { Rng } from './rng.js';
import type { KernelPriority, TalosLevel } from '../talos/format.js';

export const FAILURE_KINDS = [
  'btrfs-transid', 'btrfs-csum', 'btrfs-error', 'iscsi-error', 'iscsi-session-timeout',
  'nvme-timeout', 'nvme-reset', 'io-error', 'medium-error', 'ext4-error', 'xfs-shutdown',
  'oom', 'memcg-oom', 'hung-task', 'soft-lockup', 'rcu-stall', 'null-deref', 'mce',
  'conntrack-full', 'netdev-refcount', 'segfault-burst', 'silence',
] as const;

export type FailureKind = (typeof FAILURE_KINDS)[number];

export interface FailureInjection {
  /** When, in ms after the generator's start time. */
  atMs: number;
  kind: FailureKind;
  /** Node index (default 0). */
  node?: number;
  /**
   * Keep failing for this long: repeating kinds re-emit at their natural
   * period (conntrack every 1 s, netdev refcount every 10 s, …); `silence`
   * mutes the node for this long (default 15 min). Absent: one burst.
   */
  durationMs?: number;
}

/** A line a failure makes a service (not the kernel) log, e.g. iscsid's view of a dropped connection. */
export interface ServiceFailureMessage {
  service: string;
  msg: string;
  level: TalosLevel;
}

export type FailureMessage = KernelMessage | ServiceFailureMessage;

export function isServiceFailureMessage(m: FailureMessage): m is ServiceFailureMessage {
  return 'service' in m;
}

const k = (priority: KernelPriority, text: string): KernelMessage => ({ facility: 'kern', priority, text });

/** How often a repeating failure re-emits its burst while `durationMs` lasts. */
export const FAILURE_PERIOD_MS: Partial<Record<FailureKind, number>> = {
  'conntrack-full': 1_000,
  'netdev-refcount': 10_000,
  'segfault-burst': 20_000,
  'nvme-timeout': 30_000,
  'iscsi-error': 15_000,
  'hung-task': 120_000,
  'soft-lockup': 28_000,
  'rcu-stall': 63_000,
  'io-error': 5_000,
};

export const SILENCE_DEFAULT_MS = 15 * 60_000;

/** The records one occurrence of `kind` produces, in order (kernel lines, and service lines where a daemon reacts). */
export function failureMessages(kind: FailureKind, r: Rng): FailureMessage[] {
  const disk = r.pick(['sdb', 'sdc', 'sdd']);
  const pid = r.range(1000, 60000);
  const cpu = r.range(0, 7);
  switch (kind) {
    case 'btrfs-transid': {
      const logical = r.range(1_000, 900_000) * 16384;
      const wanted = r.range(1000, 90000);
      return [1, 2].map((mirror) => k('err', `BTRFS error (device ${disk} state EA): parent transid verify failed on logical ${logical} mirror ${mirror} wanted ${wanted} found ${wanted - r.range(1, 9)}`));
    }
    case 'btrfs-csum':
      return [
        k('warning', `BTRFS warning (device ${disk}): csum failed root 5 ino ${r.range(257, 90000)} off ${r.range(0, 9000) * 4096} csum 0x${r.hex(8)} expected csum 0x${r.hex(8)} mirror 1`),
        k('err', `BTRFS error (device ${disk}): bdev /dev/${disk} errs: wr 0, rd 0, flush 0, corrupt ${r.range(1, 9)}, gen 0`),
      ];
    case 'btrfs-error':
      return [
        k('crit', `BTRFS: error (device ${disk} state A) in btrfs_run_delayed_refs:2150: errno=-5 IO failure`),
        k('info', `BTRFS info (device ${disk} state EA): forced readonly`),
      ];
    case 'iscsi-error': {
      const c = r.range(1, 4);
      const jiffies = r.range(4_295_000_000, 4_296_000_000);
      // iscsid (the iscsi-tools extension, service `ext-iscsid`) logs its side on the service stream (open-iscsi initiator.c).
      return [
        k('err', `connection${c}:0: ping timeout of 5 secs expired, recv timeout 5, last rx ${jiffies}, last ping ${jiffies + 1250}, now ${jiffies + 2500}`),
        k('info', `connection${c}:0: detected conn error (1022)`),
        { service: 'ext-iscsid', msg: `iscsid: Kernel reported iSCSI connection ${c}:0 error (1022 - ISCSI_ERR_NOP_TIMEDOUT: A NOP has timed out) state (3)`, level: 'info' },
        { service: 'ext-iscsid', msg: `iscsid: connection${c}:0 is operational after recovery (1 attempts)`, level: 'info' },
      ];
    }
    case 'iscsi-session-timeout': {
      const s = r.range(1, 4);
      return [
        k('info', `session${s}: session recovery timed out after 120 secs`),
        k('err', `sd ${s + 2}:0:0:1: rejecting I/O to offline device`),
        k('err', `I/O error, dev ${disk}, sector ${r.range(2048, 90_000_000)} op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 2`),
      ];
    }
    case 'nvme-timeout': {
      const tag = r.range(0, 1023);
      return [
        k('warning', `nvme nvme0: I/O tag ${tag} (${r.hex(4)}) opcode 0x2 (Read) QID ${r.range(1, 8)} timeout, aborting req_op:READ(0) size:${r.pick([4096, 8192, 131072])}`),
        k('warning', 'nvme nvme0: Abort status: 0x0'),
      ];
    }
    case 'nvme-reset':
      return [k('warning', `nvme nvme0: I/O tag ${r.range(0, 1023)} (${r.hex(4)}) opcode 0x1 (Write) QID ${r.range(1, 8)} timeout, reset controller`)];
    case 'io-error':
      return [
        k('err', `I/O error, dev ${disk}, sector ${r.range(2048, 90_000_000)} op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 2`),
        k('err', `Buffer I/O error on dev ${disk}1, logical block ${r.range(1, 9_000_000)}, async page read`),
      ];
    case 'medium-error': {
      const tag = r.range(0, 31);
      return [
        k('info', `sd 0:0:0:0: [sda] tag#${tag} FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s`),
        k('info', `sd 0:0:0:0: [sda] tag#${tag} Sense Key : Medium Error [current] `),
        k('info', `sd 0:0:0:0: [sda] tag#${tag} Add. Sense: Unrecovered read error - auto reallocate failed`),
        k('err', `critical medium error, dev sda, sector ${r.range(2048, 90_000_000)} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2`),
      ];
    }
    case 'ext4-error':
      return [
        k('crit', `EXT4-fs error (device ${disk}1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0`),
        k('crit', `EXT4-fs (${disk}1): Remounting filesystem read-only`),
      ];
    case 'xfs-shutdown':
      return [
        k('alert', `XFS (${disk}1): Metadata corruption detected at xfs_dinode_verify+0xa0/0x760, inode 0x${r.hex(3)} dinode`),
        k('alert', `XFS (${disk}1): Corruption of in-memory data (0x8) detected at xfs_trans_cancel+0x12a/0x150 (fs/xfs/xfs_trans.c:1104).  Shutting down filesystem.`),
        k('alert', `XFS (${disk}1): Please unmount the filesystem and rectify the problem(s)`),
      ];
    case 'oom':
      return [
        k('warning', 'java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0'),
        k('info', `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/kubepods/burstable/pod${r.hex(8)},task=java,pid=${pid},uid=1000`),
        k('err', `Out of memory: Killed process ${pid} (java) total-vm:${r.range(4, 9) * 1_000_000}kB, anon-rss:${r.range(1, 4) * 1_000_000}kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:${r.range(4000, 9000)}kB oom_score_adj:0`),
      ];
    case 'memcg-oom':
      return [
        k('warning', 'node invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=999'),
        k('err', `Memory cgroup out of memory: Killed process ${pid} (node) total-vm:${r.range(1, 3) * 1_000_000}kB, anon-rss:${r.range(100, 900) * 1000}kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:${r.range(1000, 4000)}kB oom_score_adj:999`),
      ];
    case 'hung-task':
      return [
        k('err', `INFO: task jbd2/${disk}1-8:${r.range(300, 900)} blocked for more than 122 seconds.`),
        k('err', '      Not tainted 6.6.13-talos #1'),
        k('err', '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.'),
      ];
    case 'soft-lockup':
      return [k('emerg', `watchdog: BUG: soft lockup - CPU#${cpu} stuck for ${r.range(22, 60)}s! [kworker/${cpu}:2:${pid}]`)];
    case 'rcu-stall':
      return [
        k('err', 'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:'),
        k('err', `rcu: \t${cpu}-...0: (1 GPs behind) idle=5c4/1/0x4000000000000000 softirq=12345/12346 fqs=5250`),
        k('err', `\t(detected by ${(cpu + 1) % 8}, t=21002 jiffies, g=123457, q=890 ncpus=8)`),
      ];
    case 'null-deref':
      return [
        k('alert', 'BUG: kernel NULL pointer dereference, address: 0000000000000008'),
        k('alert', '#PF: supervisor read access in kernel mode'),
        k('alert', '#PF: error_code(0x0000) - not-present page'),
        k('emerg', 'Oops: 0000 [#1] PREEMPT SMP NOPTI'),
      ];
    case 'mce':
      return [
        k('emerg', `mce: [Hardware Error]: CPU ${cpu}: Machine Check: 0 Bank 7: cc00008000010091`),
        k('info', 'mce: [Hardware Error]: Machine check events logged'),
      ];
    case 'conntrack-full':
      return [k('warning', 'nf_conntrack: nf_conntrack: table full, dropping packet')];
    case 'netdev-refcount':
      return [k('emerg', 'unregister_netdevice: waiting for eth0 to become free. Usage count = 2')];
    case 'segfault-burst': {
      const base = r.hex(4);
      const out: KernelMessage[] = [];
      for (let i = 0; i < 15; i++) {
        out.push(k('info', `app[${pid + i}]: segfault at 0 ip 0000${base}${r.hex(8)} sp 00007ffc${r.hex(8)} error 4 in app[${base}${r.hex(4)}000+1a000] likely on CPU ${cpu} (core ${cpu}, socket 0)`));
      }
      return out;
    }
    case 'silence':
      return [];
  }
}
