/** Talos traffic generator: records in the exact json_lines encoding, and a loopback sender. */
export { records, DEFAULT_START_TIME_MS } from './records.js';
export type { GeneratorOptions, GeneratedRecord, TalosStreamKind, FailureInjection, FailureKind } from './records.js';
export { FAILURE_KINDS, failureMessages, isServiceFailureMessage } from './failures.js';
export type { FailureMessage, ServiceFailureMessage } from './failures.js';
export { sendTalosTraffic, nodeSourceAddress } from './send.js';
export type { SendOptions, SendResult, TrafficTarget } from './send.js';
export {
  formatKernelRecord, formatServiceRecord, formatRecordMap, kernelPriorityLevel,
  KERNEL_FACILITIES, KERNEL_PRIORITIES,
} from '../talos/format.js';
export type { KernelRecord, ServiceRecord, KernelFacility, KernelPriority, TalosLevel } from '../talos/format.js';
export { formatTalosTime } from '../talos/time.js';
export type { TalosTime } from '../talos/time.js';
export { goJsonMarshal, goJsonString, goJsonEscape } from '../talos/go-json.js';
export type { GoJsonValue } from '../talos/go-json.js';
