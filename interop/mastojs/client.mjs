// A Mastodon client built on masto.js, unchanged, logging in to Starling
// the way apps do: register an app, authorize in the browser (here: fetch
// posting the sign-in and consent forms, with their CSRF tokens), exchange
// the code with PKCE, then use the API. It prints one JSON object of
// results on stdout; cmd/starling/mastojs_test.go checks them.
//
//   node client.mjs http://127.0.0.1:8080 alice 'password' [bob@host]
//
// With a remote account (on another server), it also opens the user stream
// (masto.js streaming client) and holds a conversation
// through masto.js: follows it, waits on stdin for a line (the test posts
// as the remote account meanwhile, after the "followed" line), sees the
// post in home, replies, reads notifications and
// the context, favourites, boosts and bookmarks, edits and deletes.

import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";

const [base, username, password, remote] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error("usage: node client.mjs BASE_URL USERNAME PASSWORD");
  process.exit(2);
}
const redirectUri = "https://mastojs.invalid/callback"; // never followed
const scopes = "read write follow";
const out = {};
process.on("uncaughtException", (err) => {
  console.error("failed after", JSON.stringify(out), err?.message ?? err);
  process.exit(1);
});

// 1. Register the app.
const anon = createRestAPIClient({ url: base });
const app = await anon.v1.apps.create({
  clientName: "masto.js interop",
  redirectUris: redirectUri,
  scopes,
  website: "https://github.com/neet/masto.js",
});
out.app = { name: app.name, scopes: app.scopes, clientId: Boolean(app.clientId), clientSecret: Boolean(app.clientSecret) };

// 2. Authorize, as a browser would.
const b64url = (buf) => buf.toString("base64url");
const verifier = b64url(randomBytes(32));
const challenge = b64url(createHash("sha256").update(verifier).digest());
const state = b64url(randomBytes(8));
const cookies = new Map();

async function browse(path, form) {
  const init = { redirect: "manual", headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } };
  if (form) {
    init.method = "POST";
    init.headers["content-type"] = "application/x-www-form-urlencoded";
    init.body = new URLSearchParams(form).toString();
  }
  const res = await fetch(new URL(path, base), init);
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const i = pair.indexOf("=");
    cookies.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return { status: res.status, location: res.headers.get("location"), body: await res.text() };
}

const entities = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const unescape = (s) =>
  s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) =>
    e[0] !== "#" ? (entities[e] ?? m) : String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : Number(e.slice(1))));
function hiddenFields(html) {
  const fields = {};
  for (const m of html.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g)) fields[m[1]] = unescape(m[2]);
  if (!fields.authenticity_token) throw new Error("no CSRF token in page: " + html.slice(0, 500));
  return fields;
}

const authorizeQuery = new URLSearchParams({
  response_type: "code", client_id: app.clientId, redirect_uri: redirectUri, scope: scopes, state,
  code_challenge: challenge, code_challenge_method: "S256",
});
let page = await browse("/oauth/authorize?" + authorizeQuery);
if (page.status !== 200) throw new Error(`authorize: ${page.status} ${page.body}`);
const signedIn = await browse("/auth/sign_in", { ...hiddenFields(page.body), username, password });
if (signedIn.status !== 303) throw new Error(`sign in: ${signedIn.status} ${signedIn.body}`);
page = await browse(signedIn.location);
if (page.status !== 200) throw new Error(`consent page: ${page.status} ${page.body}`);
const approved = await browse("/oauth/authorize", { ...hiddenFields(page.body), decision: "approve" });
if (approved.status !== 302) throw new Error(`approve: ${approved.status} ${approved.body}`);
const callback = new URL(approved.location);
out.authorize = { redirect: callback.origin + callback.pathname, stateKept: callback.searchParams.get("state") === state };
const code = callback.searchParams.get("code");

// 3. Exchange the code (masto.js posts multipart form data).
const oauth = createOAuthAPIClient({ url: base });
const token = await oauth.token.create({
  grantType: "authorization_code", clientId: app.clientId, clientSecret: app.clientSecret,
  redirectUri, code, codeVerifier: verifier, scope: scopes,
});
out.token = { tokenType: token.tokenType, scope: token.scope, createdAt: typeof token.createdAt };

// 4. Use the API.
const masto = createRestAPIClient({ url: base, accessToken: token.accessToken });
const me = await masto.v1.accounts.verifyCredentials();
out.account = { username: me.username, acct: me.acct };
const appSeen = await masto.v1.apps.verifyCredentials();
out.appVerified = appSeen.name;
const status = await masto.v1.statuses.create({ status: "Hello from masto.js", visibility: "public" });
out.status = { id: status.id, content: status.content, visibility: status.visibility };
let home = [];
for (let i = 0; i < 100 && !home.some((s) => s.id === status.id); i++) {
  if (i > 0) await new Promise((r) => setTimeout(r, 100));
  home = await masto.v1.timelines.home.list({ limit: 20 });
}
out.home = home.map((s) => s.id);

// 5. A conversation with a remote account, through masto.js alone.
if (remote) {
  const until = async (what, cond) => {
    for (let i = 0; i < 200; i++) {
      const v = await cond();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("timed out waiting for " + what);
  };
  const conv = (out.conversation = {});
  const instance = await masto.v2.instance.fetch();
  conv.streamingUrl = instance.configuration.urls.streaming;
  // The user stream, as apps open it: the token as the WebSocket
  // subprotocol, the stream named in a subscribe message.
  const streaming = createStreamingAPIClient({
    streamingApiUrl: conv.streamingUrl, accessToken: token.accessToken, retry: 3, log: process.env.MASTO_LOG,
  });
  const events = [];
  const subscription = streaming.user.subscribe();
  const listening = (async () => {
    for await (const e of subscription) events.push(e);
  })().catch((err) => { conv.streamError = String(err?.message ?? err); });
  // masto.js connects after a back-off and says nothing when subscribed:
  // post until one of alice's own posts comes back on the stream, so the
  // subscription is known to be live before anything else happens.
  await until("the user stream to be live", async () => {
    const probe = await masto.v1.statuses.create({ status: "Is the stream live?", visibility: "private" });
    for (let i = 0; i < 10; i++) {
      if (events.some((e) => e.event === "update" && e.payload.id === probe.id)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  });
  const found = await masto.v2.search.list({ q: remote, resolve: true, type: "accounts" });
  const them = found.accounts[0];
  await masto.v1.accounts.$select(them.id).follow();
  await until("the follow to be accepted", async () =>
    (await masto.v1.accounts.relationships.fetch({ id: [them.id] }))[0]?.following);
  console.log(JSON.stringify({ step: "followed" }));
  const lines = createInterface({ input: process.stdin });
  const theirURI = (await lines[Symbol.asyncIterator]().next()).value.trim();
  const theirs = await until("their post in home", async () =>
    (await masto.v1.timelines.home.list({ limit: 40 })).find((s) => s.uri === theirURI));
  conv.theirs = { acct: theirs.account.acct, content: theirs.content };
  const streamed = await until("their post on the user stream", async () =>
    events.find((e) => e.event === "update" && e.payload.uri === theirURI));
  conv.streamed = { event: streamed.event, stream: streamed.stream, acct: streamed.payload.account.acct };

  const reply = await masto.v1.statuses.create({ status: `@${remote} indeed`, inReplyToId: theirs.id });
  conv.reply = { inReplyToId: reply.inReplyToId === theirs.id, mentions: reply.mentions.map((m) => m.acct) };
  const context = await masto.v1.statuses.$select(reply.id).context.fetch();
  conv.contextAncestors = context.ancestors.map((s) => s.uri);
  const notifications = await masto.v1.notifications.list({ limit: 20 });
  conv.notifications = notifications.map((n) => n.type);

  const faved = await masto.v1.statuses.$select(theirs.id).favourite();
  const boosted = await masto.v1.statuses.$select(theirs.id).reblog();
  const marked = await masto.v1.statuses.$select(theirs.id).bookmark();
  conv.flags = { favourited: faved.favourited, reblogged: boosted.reblog?.reblogged ?? boosted.reblogged, bookmarked: marked.bookmarked };
  const bookmarks = await masto.v1.bookmarks.list();
  conv.bookmarks = bookmarks.map((s) => s.id).includes(theirs.id);

  const edited = await masto.v1.statuses.$select(status.id).update({ status: "Hello from masto.js, edited" });
  conv.edited = { content: edited.content, editedAt: edited.editedAt != null };
  await masto.v1.statuses.$select(reply.id).remove();
  conv.deleted = await masto.v1.statuses.$select(reply.id).fetch().then(() => false, (err) => err.statusCode === 404);

  // The edit and the delete reach the stream too.
  await until("the edit and the delete on the user stream", async () =>
    events.some((e) => e.event === "status.update" && e.payload.id === status.id) &&
    events.some((e) => e.event === "delete" && e.payload === reply.id));
  conv.streamedEvents = [...new Set(events.map((e) => e.event))].sort();
  subscription.unsubscribe();
  streaming.close();
  await listening;
  lines.close();
}

// 6. Revoke, and see the token refused.
await oauth.revoke({ clientId: app.clientId, clientSecret: app.clientSecret, token: token.accessToken });
try {
  await masto.v1.accounts.verifyCredentials();
  out.afterRevoke = 200;
} catch (err) {
  out.afterRevoke = err.statusCode ?? String(err);
}

console.log(JSON.stringify(out));
