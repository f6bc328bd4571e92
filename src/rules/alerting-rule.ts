/**
 * One alerting rule and its alerts, after Prometheus rules/alerting.go (which
 * the Loki ruler reuses): an explicit state per alert and one evaluation step
 * that walks it.
 *
 *   new series            → Pending (activeAt = t)
 *   Pending, t−activeAt ≥ for → Firing (firedAt = t)
 *   series gone: Pending  → deleted;  Firing → Inactive (resolvedAt = t),
 *                           unless keep_firing_for still holds it
 *   Inactive              → deleted after the resolved retention (15m)
 */
import { AlertState, alertKey, type Alert, type AlertChange, type RuleRef } from './alert.js';
import type { Sample } from './instant-vector.js';
import type { AlertingRuleDef } from './rule-file.js';
import { compileTemplate, type Template, type TemplateData } from '../gotemplate/template.js';
import { formatEvidence, type EvidenceLine, type EvidenceStore } from './evidence.js';
import { logQueriesOf } from './evidence-query.js';
import { flat } from './flat-string.js';

function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

export interface AlertingOptions {
  resolvedRetentionMs: number;
  externalLabels: Readonly<Record<string, string>>;
  externalUrl: string;
  /** Issue #18: the rule's evidence lines, and the annotation that carries them (empty: none). */
  evidence?: EvidenceStore;
  evidenceAnnotation?: string;
}

interface ActiveAlert extends Alert {
  /** When keep_firing_for started holding it (0: not holding). */
  keepFiringSinceMs: number;
  /** Evidence (#18): new lines since its evidence was taken; refreshed at the next timer evaluation. */
  evidenceStale?: boolean;
}

export class AlertingRule {
  readonly ref: RuleRef;
  private readonly active = new Map<string, ActiveAlert>();
  private readonly labelTemplates: Array<[string, Template]>;
  private readonly annotationTemplates: Array<[string, Template]>;
  /** No rule label template has an action: alert labels do not depend on the value. */
  private readonly staticLabels: boolean;
  /** Alerts whose value moved in a line-triggered evaluation, with the sample labels to render their annotations. */
  private readonly staleAnnotations = new Map<ActiveAlert, Readonly<Record<string, string>>>();
  private readonly labelMemo = new WeakMap<Readonly<Record<string, string>>, { value: number; labels: Readonly<Record<string, string>>; key: string }>();

  constructor(
    readonly def: AlertingRuleDef,
    private readonly opts: AlertingOptions,
  ) {
    this.ref = { file: def.file, group: def.group, name: def.name, expr: def.exprText, logQueries: logQueriesOf(def.exprText, def.expr) };
    // Named as Prometheus names them, so runtime errors read `template: __alert_<name>:…`.
    const name = `__alert_${def.name}`;
    this.labelTemplates = Object.entries(def.labels).map(([k, v]) => [k, compileTemplate(v, { name })]);
    this.annotationTemplates = Object.entries(def.annotations).map(([k, v]) => [k, compileTemplate(v, { name })]);
    this.staticLabels = this.labelTemplates.every(([, tmpl]) => tmpl.isStatic);
  }

  /**
   * One evaluation at time `t` (ms) over the expression's result. Emits every
   * state change. `causeReceivedMs` is set when an incoming line triggered it.
   * `stampMs` (≤ t) is what activeAt/firedAt/resolvedAt record: an event
   * evaluates at the grid instant at or after it, which may be ahead of the
   * wall clock, and Alertmanager must never see times from the future.
   */
  eval(t: number, samples: readonly Sample[], limit: number, emit: (c: AlertChange) => void, causeReceivedMs?: number, stampMs = t): void {
    const seen = new Set<string>();
    for (const s of samples) {
      const { labels, key } = this.alertLabels(s);
      // Two samples may collapse into one label set after templating; Prometheus rejects that.
      if (seen.has(key)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      seen.add(key);
      const existing = this.active.get(key);
      if (existing !== undefined && existing.state !== AlertState.Inactive) {
        // Annotations depend on labels (fixed for this alert) and the value: re-render only when it moved.
        const moved = !sameValue(existing.value, s.value);
        existing.value = s.value;
        existing.lastSeenMs = stampMs;
        existing.keepFiringSinceMs = 0;
        // Evidence (#18): a line-triggered evaluation only marks it stale; the timer (≤ 1 tick later) re-reads the lines, so a burst costs one read per alert per tick.
        if (moved && this.opts.evidence !== undefined) existing.evidenceStale = true;
        const refresh = this.opts.evidence !== undefined && existing.evidenceStale === true && causeReceivedMs === undefined;
        if (refresh) {
          existing.evidence = this.opts.evidence!.refresh(existing.evidence, s.labels, t);
          existing.evidenceStale = false;
        }
        // Annotations follow the value. A line-triggered evaluation only marks them stale: the
        // timer (≤ 1 tick later) or the alert's next state change renders them, so a burst of
        // lines costs one render per alert per tick, not one per line.
        if (moved && this.annotationTemplates.length > 0 && causeReceivedMs !== undefined) this.staleAnnotations.set(existing, s.labels);
        else if ((moved && this.annotationTemplates.length > 0) || refresh || (causeReceivedMs === undefined && this.staleAnnotations.has(existing))) {
          this.staleAnnotations.delete(existing);
          (existing as { annotations: Record<string, string> }).annotations = this.renderAnnotations(this.templateData(s), existing.evidence);
        }
        continue;
      }
      const evidence = this.opts.evidence?.linesFor(s.labels, t); // evidence (#18)
      const a: ActiveAlert = {
        labels,
        annotations: this.renderAnnotations(this.templateData(s), evidence),
        state: AlertState.Pending,
        value: s.value,
        activeAtMs: stampMs,
        firedAtMs: 0,
        resolvedAtMs: 0,
        lastSeenMs: stampMs,
        keepFiringSinceMs: 0,
      };
      if (evidence !== undefined) a.evidence = evidence;
      this.active.set(key, a);
      emit(this.change('pending', a, t, causeReceivedMs));
    }

    for (const [key, a] of this.active) {
      if (!seen.has(key)) {
        let keepFiring = false;
        if (a.state === AlertState.Firing && this.def.keepFiringForMs > 0) {
          if (a.keepFiringSinceMs === 0) a.keepFiringSinceMs = t;
          keepFiring = t - a.keepFiringSinceMs < this.def.keepFiringForMs;
        }
        if (a.state === AlertState.Pending || (a.resolvedAtMs !== 0 && t - a.resolvedAtMs > this.opts.resolvedRetentionMs)) {
          this.active.delete(key);
          this.staleAnnotations.delete(a);
          emit(this.change('removed', a, t));
          continue;
        }
        if (a.state !== AlertState.Inactive && !keepFiring) {
          a.state = AlertState.Inactive;
          a.resolvedAtMs = stampMs;
          this.renderIfStale(a);
          emit(this.change('resolved', a, t));
        }
        if (!keepFiring) continue;
      }
      if (a.state === AlertState.Pending && t - a.activeAtMs >= this.def.forMs) {
        a.state = AlertState.Firing;
        a.firedAtMs = stampMs;
        this.renderIfStale(a);
        emit(this.change('firing', a, t, causeReceivedMs));
      }
    }
    // The timer evaluation leaves no annotation stale (e.g. alerts held by keep_firing_for).
    if (causeReceivedMs === undefined) for (const a of [...this.staleAnnotations.keys()]) this.renderIfStale(a);

    if (limit > 0) {
      let n = 0;
      for (const a of this.active.values()) if (a.state !== AlertState.Inactive) n++;
      if (n > limit) {
        // Prometheus drops every alert of a rule that exceeds its group's limit.
        for (const a of this.active.values()) emit(this.change('removed', a, t));
        this.active.clear();
        this.staleAnnotations.clear();
        throw new Error(`exceeded limit of ${limit} with ${n} alerts`);
      }
    }
  }

  /** Render the annotations a line-triggered evaluation left stale, at the alert's current value. */
  private renderIfStale(a: ActiveAlert): void {
    const sampleLabels = this.staleAnnotations.get(a);
    if (sampleLabels === undefined) return;
    this.staleAnnotations.delete(a);
    (a as { annotations: Record<string, string> }).annotations = this.renderAnnotations(this.templateData({ labels: sampleLabels, value: a.value }), a.evidence);
  }

  private templateData(s: Sample): TemplateData {
    return { labels: s.labels, value: s.value, externalLabels: this.opts.externalLabels, externalURL: this.opts.externalUrl };
  }

  /**
   * The alert's labels (series labels + templated rule labels + alertname)
   * and key for a sample. Rendering and sorting them for every series at
   * every evaluation made a line-triggered evaluation cost O(alerts) string
   * work; a frozen sample label set (a series', or an aggregation group's)
   * keeps its result, valid while the value is the same or when no rule
   * label template has an action (then the value cannot matter).
   */
  private alertLabels(s: Sample): { labels: Readonly<Record<string, string>>; key: string } {
    const memo = this.labelMemo.get(s.labels);
    if (memo !== undefined && (this.staticLabels || sameValue(memo.value, s.value))) return memo;
    const labels: Record<string, string> = {};
    for (const k in s.labels) if (k !== '__name__') labels[k] = s.labels[k]!;
    if (this.labelTemplates.length > 0) {
      const data = this.templateData(s);
      for (const [k, tmpl] of this.labelTemplates) labels[k] = tmpl.render(data);
    }
    labels.alertname = this.def.name;
    const out = { value: s.value, labels, key: flat(alertKey(labels)) };
    if (Object.isFrozen(s.labels)) this.labelMemo.set(s.labels, out);
    return out;
  }

  private renderAnnotations(data: TemplateData, evidence?: readonly EvidenceLine[]): Record<string, string> {
    const out: Record<string, string> = {};
    // Evidence (#18): `$lines` for rule templates, and the opt-in annotation (a rule's own annotation of that name wins).
    const text = evidence === undefined ? undefined : formatEvidence(evidence);
    if (text !== undefined) data.lines = text;
    for (const [k, tmpl] of this.annotationTemplates) out[k] = tmpl.render(data);
    const name = this.opts.evidenceAnnotation ?? '';
    if (text !== undefined && name !== '' && !(name in out)) out[name] = text;
    return out;
  }

  private change(kind: AlertChange['kind'], a: ActiveAlert, t: number, causeReceivedMs?: number): AlertChange {
    const alert: Alert = { ...a };
    delete (alert as Partial<ActiveAlert>).keepFiringSinceMs;
    delete (alert as Partial<ActiveAlert>).evidenceStale;
    return causeReceivedMs === undefined ? { kind, rule: this.ref, alert, live: a, atMs: t } : { kind, rule: this.ref, alert, live: a, atMs: t, causeReceivedMs };
  }

  /** Current alerts (pending, firing and retained resolved ones). */
  alerts(): Alert[] {
    return [...this.active.values()];
  }

  /** Carry alert state over from the same rule before a reload. */
  adoptState(from: AlertingRule): void {
    for (const [k, a] of from.active) this.active.set(k, a);
  }

  /** Restore alerts from a snapshot. */
  restoreAlerts(alerts: readonly Alert[]): void {
    for (const a of alerts) this.active.set(alertKey(a.labels), { ...a, keepFiringSinceMs: 0 });
  }
}

