/**
 * Credential scrubbing for everything a sink logs: URLs from the config and
 * response bodies from Alertmanager and Loki. A peer (or a proxy in front of
 * it) may echo the request back in an error body, Authorization header
 * included, so no response text reaches a log without passing through here.
 */

const REDACTED = '<redacted>';

/**
 * `scheme://user:pw@host`: the userinfo runs to the LAST `@` of the
 * authority, so an unescaped `@` in a password is hidden too.
 */
const SCHEME_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi;
/** `user:pw@host` without a scheme (e.g. `loki.url: user:pw@loki:3100`): up to the last `@` before the host. */
const BARE_USERINFO = /(^|[\s"'=(<,[{])[^\s"'/@:<>]+:[^\s"'/<>]*@(?=[a-z0-9[])/gi;
/** Query-string and form parameters that carry secrets. */
const SECRET_PARAMS =
  /([?&;](?:access_token|id_token|refresh_token|token|api[_-]?key|apikey|key|password|passwd|pwd|pass|secret|client_secret|sig|signature|auth|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#"'<>]*/gi;
/** A header echoed back as text or JSON: `Authorization: Basic …`, `"authorization":["Bearer …"]`. */
const SECRET_HEADERS = /((?:proxy-)?authorization|x-api-key|x-auth-token|cookie|set-cookie)(["']?\s*[:=]\s*\[?\s*["']?)[^"'\r\n\]}]*/gi;
/** Credentials on their own: `Bearer <token>`, `Basic <base64>`. */
const AUTH_SCHEMES = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/g;

/** Hide user:password (with or without a scheme, `@` in the password included) and secret query parameters. */
export function redactUrl(u: string): string {
  return u
    .replace(SCHEME_USERINFO, `$1${REDACTED}@`)
    .replace(BARE_USERINFO, `$1${REDACTED}@`)
    .replace(SECRET_PARAMS, `$1${REDACTED}`);
}

/** `text` with every credential form above replaced by `<redacted>`. */
export function scrubSecrets(text: string): string {
  return redactUrl(text).replace(SECRET_HEADERS, `$1$2${REDACTED}`).replace(AUTH_SCHEMES, `$1 ${REDACTED}`);
}

/**
 * What of a peer's response body may be logged: scrubbed, then cut to `max`
 * characters (scrubbing first, so a cut cannot leave half a secret behind).
 */
export function responseExcerpt(body: string, max: number): string {
  const s = scrubSecrets(body.trim());
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more chars)`;
}
