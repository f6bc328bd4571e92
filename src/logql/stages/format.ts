/**
 * `| line_format "…"` and `| label_format a="…"` (pkg/logql/log/fmt.go).
 * Not run by this engine yet: compiling one fails as `unsupported`, so
 * `check` and the loader refuse the rule with that reason.
 */
import type { LabelFormatItem } from '../ast.js';
import type { LabelsBuilder } from './labels-builder.js';
import type { Stage } from './stage.js';

export class FormatUnsupported extends Error {}

export class LineFormatStage implements Stage {
  constructor(readonly template: string) {
    throw new FormatUnsupported('"| line_format" is not supported yet');
  }
  process(line: string, _lb: LabelsBuilder): string {
    return line;
  }
}

export class LabelFormatStage implements Stage {
  constructor(readonly items: readonly LabelFormatItem[]) {
    throw new FormatUnsupported('"| label_format" is not supported yet');
  }
  process(line: string, _lb: LabelsBuilder): string {
    return line;
  }
}
