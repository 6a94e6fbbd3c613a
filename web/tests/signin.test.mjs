// The PKCE request the page builds for a hosted login (RFC 7636), checked without a browser.

import { test } from "node:test";
import assert from "node:assert/strict";
import { authorizationRequest, base64url, challengeOf, finishSignIn, grantedScopes, signOutUrl, tokenRequest } from "../signin.js";

const signIn = {
  authorizeUrl: "https://delivery-prod.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
  tokenUrl: "https://delivery-prod.auth.eu-west-1.amazoncognito.com/oauth2/token",
  clientId: "web-client-id",
  scopes: ["openid", "delivery/products:read", "delivery/orders:write"],
  redirectUri: "https://d111.cloudfront.net/",
};

test("the S256 challenge is RFC 7636's own example", async () => {
  // Appendix B: this verifier has this challenge.
  assert.equal(
    await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
});

test("the authorization request asks for a code with an S256 challenge of a fresh verifier", async () => {
  let calls = 0;
  const random = (n) => new Uint8Array(n).fill(++calls);
  const request = await authorizationRequest(signIn, random);
  assert.equal(request.verifier, base64url(new Uint8Array(32).fill(1)));
  assert.equal(request.verifier.length, 43, "32 bytes: 43 characters, within RFC 7636's 43 to 128");
  const url = new URL(request.url);
  assert.equal(url.origin + url.pathname, signIn.authorizeUrl);
  const q = Object.fromEntries(url.searchParams);
  assert.deepEqual(q, {
    response_type: "code",
    client_id: "web-client-id",
    redirect_uri: "https://d111.cloudfront.net/",
    scope: "openid delivery/products:read delivery/orders:write",
    state: request.state,
    code_challenge: await challengeOf(request.verifier),
    code_challenge_method: "S256",
  });
  assert.notEqual(request.state, request.verifier);
});

test("the code is redeemed with the verifier, no secret", () => {
  const { url, init } = tokenRequest(signIn, "the-code", "the-verifier");
  assert.equal(url, signIn.tokenUrl);
  assert.equal(init.method, "POST");
  assert.equal(init.headers["Content-Type"], "application/x-www-form-urlencoded");
  assert.deepEqual(Object.fromEntries(new URLSearchParams(init.body)), {
    grant_type: "authorization_code",
    client_id: "web-client-id",
    code: "the-code",
    redirect_uri: "https://d111.cloudfront.net/",
    code_verifier: "the-verifier",
  });
});

test("the way back checks the state and returns the access token", async () => {
  const storage = new Map([["pkce-verifier", "v"], ["pkce-state", "s1"]]);
  const store = { getItem: (k) => storage.get(k) ?? null, removeItem: (k) => storage.delete(k) };
  let posted;
  const post = async (url, init) => {
    posted = new URLSearchParams(init.body);
    return { ok: true, json: async () => ({ access_token: "at", id_token: "it" }) };
  };
  assert.equal(await finishSignIn(signIn, "?code=c&state=s1", store, post), "at");
  assert.equal(posted.get("code_verifier"), "v");
  assert.equal(storage.size, 0, "the verifier is used once");
  assert.equal(await finishSignIn(signIn, "", store, post), null, "no code: no sign-in under way");
  storage.set("pkce-verifier", "v");
  storage.set("pkce-state", "s1");
  await assert.rejects(finishSignIn(signIn, "?code=c&state=forged", store, post), /state this tab did not send/);
});

test("a refusal from the hosted login is told, and ends the sign-in under way", async () => {
  const storage = new Map([["pkce-verifier", "v"], ["pkce-state", "s1"]]);
  const store = { getItem: (k) => storage.get(k) ?? null, removeItem: (k) => storage.delete(k) };
  const post = async () => assert.fail("nothing is redeemed");
  await assert.rejects(
    finishSignIn(signIn, "?error=access_denied&error_description=User+is+disabled&state=s1", store, post),
    /did not finish: User is disabled/,
  );
  assert.equal(storage.size, 0);
  // Another tab's (or a forged) error is not this tab's business.
  assert.equal(await finishSignIn(signIn, "?error=access_denied&state=other", store, post), null);
});

test("the scopes a token grants lose the issuer's prefix, and unprefixed ones grant nothing", () => {
  const claims = { scope: "openid delivery/products:read delivery/orders:write orders:read" };
  assert.deepEqual(grantedScopes(claims, "delivery/"), ["products:read", "orders:write"]);
  assert.deepEqual(grantedScopes({ scope: "products:read orders:read" }), ["products:read", "orders:read"]);
  assert.deepEqual(grantedScopes({}, "delivery/"), []);
});

test("signing out ends the hosted login's session and comes back to the page", () => {
  const logoutUrl = "https://delivery-prod.auth.eu-west-1.amazoncognito.com/logout";
  const url = new URL(signOutUrl({ ...signIn, logoutUrl }));
  assert.equal(url.origin + url.pathname, logoutUrl);
  assert.deepEqual(Object.fromEntries(url.searchParams), { client_id: "web-client-id", logout_uri: "https://d111.cloudfront.net/" });
  assert.equal(signOutUrl(signIn), null, "no sign-out URL: nothing to end");
  assert.equal(signOutUrl(undefined), null);
});
