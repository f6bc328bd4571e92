/** LogQL's six numeric comparisons, shared by label filters and vector operations. */
import type { CompareOp } from './ast.js';

export function compare(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
  }
}
