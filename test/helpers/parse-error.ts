/** The LogQLError a query is refused with; fails the test if it parses or throws anything else. */
import { LogQLError } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';

export function parseError(text: string): LogQLError {
  try {
    parseExpr(text);
  } catch (e) {
    if (e instanceof LogQLError) return e;
    throw e;
  }
  throw new Error(`expected a LogQLError for ${text}`);
}
