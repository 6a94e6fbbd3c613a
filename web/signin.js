// Signing in through an identity provider's hosted login (Amazon Cognito, when the deployment
// has it: config.json's `signIn`): OAuth 2.0 authorization code with PKCE (RFC 7636, S256), for
// a public client with no secret. The verifier stays in this tab's sessionStorage; the code
// comes back on the page's own URL and is exchanged for the access token, which the page uses
// as the bearer token. Served by delivery-local there is no `signIn`: the demo principals stay.

const VERIFIER = "pkce-verifier";
const STATE = "pkce-state";

/** base64url without padding (RFC 4648 §5), as PKCE and OAuth's state use it. */
export function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The S256 challenge of a verifier: base64url(SHA-256(ASCII(verifier))). */
export async function challengeOf(verifier, subtle = crypto.subtle) {
  const digest = await subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * The authorization request: a fresh verifier (32 random bytes, 43 characters) and state, and
 * the URL of the hosted login. `signIn` is {authorizeUrl, clientId, scopes, redirectUri}.
 */
export async function authorizationRequest(signIn, random = (n) => crypto.getRandomValues(new Uint8Array(n))) {
  const verifier = base64url(random(32));
  const state = base64url(random(16));
  const url = new URL(signIn.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: signIn.clientId,
    redirect_uri: signIn.redirectUri,
    scope: signIn.scopes.join(" "),
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  return { verifier, state, url: url.toString() };
}

/** The token request that redeems `code` with the verifier (a form POST, no client secret). */
export function tokenRequest(signIn, code, verifier) {
  return {
    url: signIn.tokenUrl,
    init: {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: signIn.clientId,
        code,
        redirect_uri: signIn.redirectUri,
        code_verifier: verifier,
      }).toString(),
    },
  };
}

/** Goes to the hosted login, keeping the verifier and state for the way back. */
export async function startSignIn(signIn, storage = sessionStorage, go = (url) => location.assign(url)) {
  const request = await authorizationRequest(signIn);
  storage.setItem(VERIFIER, request.verifier);
  storage.setItem(STATE, request.state);
  go(request.url);
}

/**
 * Back from the hosted login (`?code=…&state=…` on the page's URL): the access token, or null
 * when this is no such return. A state that is not the one sent is refused.
 */
export async function finishSignIn(signIn, search = location.search, storage = sessionStorage, post = fetch) {
  const params = new URLSearchParams(search);
  if (params.has("error") && storage.getItem(STATE) === params.get("state")) {
    storage.removeItem(VERIFIER);
    storage.removeItem(STATE);
    throw new Error(`The sign-in did not finish: ${params.get("error_description") || params.get("error")}`);
  }
  const code = params.get("code");
  if (!code) return null;
  const verifier = storage.getItem(VERIFIER);
  const expected = storage.getItem(STATE);
  storage.removeItem(VERIFIER);
  storage.removeItem(STATE);
  if (!verifier || !expected || params.get("state") !== expected) {
    throw new Error("The sign-in came back with a state this tab did not send: sign in again.");
  }
  const { url, init } = tokenRequest(signIn, code, verifier);
  const response = await post(url, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || !answer.access_token) {
    throw new Error(`The sign-in was refused: ${answer.error_description || answer.error || response.status}`);
  }
  return answer.access_token;
}

/**
 * The scopes a token grants, by the API's names: an issuer that puts a prefix before each scope
 * (Cognito: `delivery/products:read`, config.json's `signIn.scopePrefix`) has it taken off, as
 * the authorizer does; a scope without the prefix grants nothing.
 */
export function grantedScopes(claims, prefix = "") {
  const scopes = String(claims?.scope || "").split(" ").filter(Boolean);
  if (!prefix) return scopes;
  return scopes.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
}

/**
 * Where "Sign out" goes after a hosted sign-in: the hosted login's own sign-out (Cognito's
 * `/logout`), which ends its session too (else "Sign in" would come straight back as the same
 * user) and returns to the page. Null when the provider names none.
 */
export function signOutUrl(signIn) {
  if (!signIn?.logoutUrl) return null;
  const url = new URL(signIn.logoutUrl);
  url.search = new URLSearchParams({ client_id: signIn.clientId, logout_uri: signIn.redirectUri }).toString();
  return url.toString();
}
