/** Public surface of the Alertmanager sink. */
export { AlertmanagerNotifier, NotifiedState, type NotifierDeps, type NotifierRulesConfig, type TrackedAlertView } from './notifier.js';
export { lokiExploreLink } from './generator-url.js';
export type { PostableAlert } from './payload.js';
