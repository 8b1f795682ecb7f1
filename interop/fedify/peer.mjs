// A small Fedify server that Starling's interop test (cmd/starling/fedify_test.go)
// federates with on loopback. It is an independent ActivityPub
// implementation: nothing here is Starling code, and Fedify verifies every
// signature Starling sends (skipSignatureVerification stays false).
//
// One actor, /users/fedi, with a followers collection and its notes served
// at /notes/{id}. It accepts every Follow, keeps its followers, and records
// every activity its inboxes accept, with the signature standard the request
// carried and the inbox it was posted to. The test drives it over a small
// control API (every POST takes knock=SPEC):
//
//   POST /control/follow?target=URI            follow an actor
//   POST /control/unfollow?target=URI          Undo that Follow
//   POST /control/post?to=URI&content=HTML&visibility=V&mention=URI&tag=NAME&inReplyTo=URI
//        a Note addressed as Mastodon addresses V (public, unlisted,
//        private, direct), mentioning the mention URIs, tagged with the tag
//        names; sent to the followers (except direct) and to every `to`
//        and `mention` actor. Answers {"id": NOTE}.
//   POST /control/edit?id=NOTE&content=HTML    Update(Note) to the same audience
//   POST /control/delete?id=NOTE               Delete(Tombstone) to the same audience
//   POST /control/like?object=URI&to=URI       Like; /control/unlike undoes it
//   POST /control/boost?object=URI&to=URI      Announce; /control/unboost undoes it
//   GET  /control/inbox    what the inboxes accepted (JSON), each with
//                          "proof": its Object Integrity Proof checked by
//                          Fedify's verifyObject ("verified", "none", "failed…")
//   GET  /control/sent     every POST Fedify sent, with its standard, answer and body (JSON)
//   GET  /control/sign-ed25519?url=URI
//        asks Fedify's own signRequest to sign a POST to URI with the
//        actor's Ed25519 key, by each standard; answers
//        {"rfc9421": "ok" or the error, "draft-cavage-http-signatures-12": ...}
//   POST /control/post-ed25519?inbox=URI&content=HTML&tamper=T&name=N
//        a public Note's Create, serialised by Fedify and POSTed to one
//        inbox with an RFC 9421 signature made with the actor's Ed25519
//        key by http-message-signatures (which Fedify cannot make; see
//        keyPairs below). tamper=body changes the body after signing (and
//        recomputes Content-Digest); tamper=target posts it to
//        /users/N/inbox on the same host instead of the inbox it was
//        signed for. Answers {"id": NOTE, "keyId", "status", "answer",
//        "signatureInput"}.
//
// SPEC is the signature standard Fedify knocks with first:
// "rfc9421" (Fedify's default) or "draft-cavage-http-signatures-12".
//
// Usage: node peer.mjs PORT  (prints "listening on PORT" when ready)

import { createHash, KeyObject } from "node:crypto";
import http from "node:http";
import { Temporal } from "@js-temporal/polyfill";
import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
  signRequest,
  verifyObject,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Hashtag,
  Like,
  Mention,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Tombstone,
  Undo,
  Update,
} from "@fedify/vocab";
import { createSigner, httpbis } from "http-message-signatures";

const port = Number(process.argv[2] ?? "0");

// Every POST Fedify sends, with the signature standard it carried and the
// answer: the test reads it to see which standard reached Starling.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = new Request(input, init);
  const standard = request.headers.has("signature-input")
    ? "rfc9421"
    : request.headers.has("signature") ? "draft-cavage" : null;
  const body = request.method === "POST" ? await request.clone().text() : null;
  const response = await realFetch(request);
  if (request.method === "POST") {
    sent.push({ url: request.url, standard, status: response.status, body });
  }
  return response;
};
const identifier = "fedi";
// RSA signs HTTP requests: Fedify signs them with the first
// RSASSA-PKCS1-v1_5 key only (sendActivityInternal, federation/send.ts),
// and its signers refuse any other key (signRequestDraft and
// signRequestRfc9421, sig/http.ts; /control/sign-ed25519 shows it). The
// Ed25519 key is published as a Multikey in assertionMethod (FEP-521a) and
// signs Object Integrity Proofs (FEP-8b32) in the activities' bodies,
// and the requests /control/post-ed25519 signs with http-message-signatures,
// an RFC 9421 library that is neither Fedify's nor Starling's.
const keyPairs = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];

// What the inboxes accepted: { type, id, actor, object, content, standard,
// alg (RFC 9421's, or null), inbox, raw } where raw is the activity as it was posted.
const received = [];
// Followers, as Fedify recipients, by actor id.
const followers = new Map();
// Notes by id, with the recipients each was sent to, so edits, deletes
// and fetches of /notes/{id} find them.
const notes = new Map();
// Follows, likes and boosts this actor sent, by target, so their Undos
// repeat the original activity.
const sentActivities = new Map();

function build(firstKnock) {
  const kv = new MemoryKvStore();
  const federation = createFederation({
    kv,
    allowPrivateAddress: true, // Starling listens on 127.0.0.1
    firstKnock,
  });
  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, id) => {
      if (id !== identifier) return null;
      const keys = await ctx.getActorKeyPairs(id);
      return new Person({
        id: ctx.getActorUri(id),
        preferredUsername: id,
        name: "Fedify peer",
        inbox: ctx.getInboxUri(id),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        followers: ctx.getFollowersUri(id),
        url: ctx.getActorUri(id),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher(async (_ctx, id) => (id === identifier ? keyPairs : []));

  federation.setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, id) => {
    if (id !== identifier) return null;
    return { items: [...followers.values()] };
  });

  federation.setObjectDispatcher(Note, "/notes/{id}", async (ctx, values) => {
    const entry = notes.get(ctx.getObjectUri(Note, values).href);
    return entry?.note ?? null;
  });

  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Follow, async (ctx, follow) => {
      if (follow.objectId?.href !== ctx.getActorUri(identifier).href) return;
      const follower = await follow.getActor();
      if (follower == null) return;
      followers.set(follower.id.href, follower);
      await ctx.sendActivity(
        { identifier },
        follower,
        new Accept({
          id: new URL(`#accepts/${encodeURIComponent(follow.id.href)}`, ctx.getActorUri(identifier)),
          actor: ctx.getActorUri(identifier),
          object: follow,
        }),
      );
    })
    .on(Undo, async (_ctx, undo) => {
      const inner = await undo.getObject();
      if (inner instanceof Follow && undo.actorId != null) followers.delete(undo.actorId.href);
    })
    // Everything else is recorded by the HTTP wrapper below; listening to
    // Activity makes Fedify verify and accept every type.
    .on(Activity, async () => {});
  return federation;
}

const federations = {
  "rfc9421": build("rfc9421"),
  "draft-cavage-http-signatures-12": build("draft-cavage-http-signatures-12"),
};
// Inbound requests are all served by one; both verify either standard.
const inbound = federations["rfc9421"];

function federationFor(url) {
  const knock = url.searchParams.get("knock") ?? "rfc9421";
  const f = federations[knock];
  if (f == null) throw new Error(`unknown knock ${knock}`);
  return f;
}

// addressing is how Mastodon addresses a post of each visibility.
function addressing(ctx, visibility, mentioned) {
  const followersUri = ctx.getFollowersUri(identifier);
  switch (visibility) {
    case "public":
      return { tos: [PUBLIC_COLLECTION], ccs: [followersUri, ...mentioned] };
    case "unlisted":
      return { tos: [followersUri], ccs: [PUBLIC_COLLECTION, ...mentioned] };
    case "private":
      return { tos: [followersUri], ccs: mentioned };
    case "direct":
      return { tos: mentioned, ccs: [] };
  }
  throw new Error(`unknown visibility ${visibility}`);
}

// resolve looks actors up by URI (each one a recipient of what is sent).
async function resolve(ctx, uris) {
  const out = [];
  for (const uri of uris) {
    const actor = await ctx.lookupObject(uri);
    if (actor == null || actor.inboxId == null) throw new Error(`actor ${uri} not found`);
    out.push(actor);
  }
  return out;
}

async function send(ctx, recipients, activity, toFollowers) {
  if (toFollowers && followers.size > 0) {
    await ctx.sendActivity({ identifier }, "followers", activity);
  }
  const direct = recipients.filter((r) => !(toFollowers && followers.has(r.id.href)));
  if (direct.length > 0) {
    await ctx.sendActivity({ identifier }, direct, activity);
  }
}

let seq = 0;
const nextId = () => `${Date.now()}-${++seq}`;

async function control(url, origin) {
  const q = url.searchParams;
  if (url.pathname === "/control/inbox") {
    // Each activity's Object Integrity Proof, checked by Fedify's own
    // verifyObject (as its inbox does before the HTTP signature), once.
    const ctx = inbound.createContext(new URL(origin), undefined);
    for (const r of received) r.proof ??= await proofOf(ctx, r.raw);
    return Response.json(received);
  }
  if (url.pathname === "/control/sent") return Response.json(sent);
  if (url.pathname === "/control/sign-ed25519") {
    const out = {};
    const keyId = new URL(`${origin}/users/${identifier}#ed25519-key`);
    for (const spec of ["rfc9421", "draft-cavage-http-signatures-12"]) {
      try {
        await signRequest(
          new Request(q.get("url"), { method: "POST", body: "{}" }),
          keyPairs[1].privateKey, keyId, { spec });
        out[spec] = "ok";
      } catch (e) {
        out[spec] = String(e?.message ?? e);
      }
    }
    return Response.json(out);
  }
  const fed = federationFor(url);
  const ctx = fed.createContext(new URL(origin), undefined);
  const me = ctx.getActorUri(identifier);
  switch (url.pathname) {
    case "/control/follow": {
      const [target] = await resolve(ctx, [q.get("target")]);
      const follow = new Follow({ id: new URL(`#follows/${nextId()}`, me), actor: me, object: target.id });
      sentActivities.set(`follow ${target.id.href}`, follow);
      await ctx.sendActivity({ identifier }, target, follow);
      return new Response("ok");
    }
    case "/control/unfollow": {
      const [target] = await resolve(ctx, [q.get("target")]);
      const follow = sentActivities.get(`follow ${target.id.href}`);
      if (follow == null) return new Response("not following", { status: 404 });
      await ctx.sendActivity({ identifier }, target,
        new Undo({ id: new URL(`#undo/${nextId()}`, me), actor: me, object: follow }));
      return new Response("ok");
    }
    case "/control/post": {
      const visibility = q.get("visibility") ?? "public";
      const mentioned = q.getAll("mention");
      const recipients = await resolve(ctx, [...new Set([...q.getAll("to"), ...mentioned])]);
      const mentionedActors = recipients.filter((r) => mentioned.includes(r.id.href));
      const noteId = ctx.getObjectUri(Note, { id: nextId() });
      const tags = [
        ...mentionedActors.map((a) => new Mention({
          href: a.id,
          name: `@${a.preferredUsername}@${a.id.host}`,
        })),
        ...q.getAll("tag").map((name) => new Hashtag({
          href: new URL(`/tags/${name}`, origin),
          name: `#${name}`,
        })),
      ];
      const note = new Note({
        id: noteId,
        attribution: me,
        content: q.get("content") ?? "",
        published: Temporal.Now.instant(),
        replyTarget: q.get("inReplyTo") ? new URL(q.get("inReplyTo")) : null,
        tags,
        url: noteId,
        ...addressing(ctx, visibility, mentionedActors.map((a) => a.id)),
      });
      const toFollowers = visibility !== "direct";
      notes.set(noteId.href, { note, recipients, toFollowers });
      await send(ctx, recipients,
        new Create({ id: new URL(`${noteId.href}#create`), actor: me, object: note, tos: note.toIds, ccs: note.ccIds }),
        toFollowers);
      return Response.json({ id: noteId.href });
    }
    case "/control/post-ed25519": {
      const inbox = new URL(q.get("inbox"));
      const noteId = ctx.getObjectUri(Note, { id: nextId() });
      const note = new Note({
        id: noteId,
        attribution: me,
        content: q.get("content") ?? "",
        published: Temporal.Now.instant(),
        url: noteId,
        ...addressing(ctx, "public", []),
      });
      notes.set(noteId.href, { note, recipients: [], toFollowers: true });
      const create = new Create({
        id: new URL(`${noteId.href}#create`), actor: me, object: note, tos: note.toIds, ccs: note.ccIds,
      });
      let body = JSON.stringify(await create.toJsonLd({ contextLoader: ctx.contextLoader }));
      const digest = (b) => `sha-256=:${createHash("sha256").update(b).digest("base64")}:`;
      const ed = (await ctx.getActorKeyPairs(identifier))
        .find((k) => k.privateKey.algorithm.name === "Ed25519");
      const signed = await httpbis.signMessage({
        // The id the actor publishes the key under (its Multikey's, as in
        // Fedify's own proofs); ed.keyId names an unpublished CryptographicKey.
        key: createSigner(KeyObject.from(ed.privateKey), "ed25519", ed.multikey.id.href),
        fields: ["@method", "@target-uri", "@authority", "content-type", "content-digest"],
        params: ["keyid", "alg", "created", "expires"],
      }, {
        method: "POST",
        url: inbox.href,
        headers: {
          "content-type": "application/activity+json",
          "content-digest": digest(body),
          date: new Date().toUTCString(),
        },
        body,
      });
      const headers = { ...signed.headers };
      let target = inbox;
      switch (q.get("tamper")) {
        case "body":
          body = body.replace(q.get("content") ?? "", "changed after signing");
          headers["content-digest"] = digest(body);
          break;
        case "target":
          target = new URL(`/users/${q.get("name") ?? "alice"}/inbox`, inbox);
          break;
      }
      const response = await realFetch(target, { method: "POST", headers, body });
      return Response.json({
        id: noteId.href,
        keyId: ed.multikey.id.href,
        status: response.status,
        answer: await response.text(),
        signatureInput: signed.headers["Signature-Input"],
      });
    }
    case "/control/edit": {
      const entry = notes.get(q.get("id"));
      if (entry == null) return new Response("no such note", { status: 404 });
      entry.note = entry.note.clone({ content: q.get("content") ?? "", updated: Temporal.Now.instant() });
      await send(ctx, entry.recipients,
        new Update({
          id: new URL(`${entry.note.id.href}#update/${nextId()}`), actor: me, object: entry.note,
          tos: entry.note.toIds, ccs: entry.note.ccIds,
        }),
        entry.toFollowers);
      return new Response("ok");
    }
    case "/control/delete": {
      const entry = notes.get(q.get("id"));
      if (entry == null) return new Response("no such note", { status: 404 });
      notes.delete(q.get("id"));
      await send(ctx, entry.recipients,
        new Delete({
          id: new URL(`${entry.note.id.href}#delete`), actor: me,
          object: new Tombstone({ id: entry.note.id }), tos: [PUBLIC_COLLECTION],
        }),
        entry.toFollowers);
      return new Response("ok");
    }
    case "/control/like":
    case "/control/boost": {
      const recipients = await resolve(ctx, q.getAll("to"));
      const object = new URL(q.get("object"));
      const kind = url.pathname.slice("/control/".length);
      const activity = kind === "like"
        ? new Like({ id: new URL(`#likes/${nextId()}`, me), actor: me, object })
        : new Announce({
          id: new URL(`#announces/${nextId()}`, me), actor: me, object,
          published: Temporal.Now.instant(),
          tos: [PUBLIC_COLLECTION], ccs: [ctx.getFollowersUri(identifier), ...recipients.map((r) => r.id)],
        });
      sentActivities.set(`${kind} ${object.href}`, { activity, recipients });
      await send(ctx, recipients, activity, kind === "boost");
      return Response.json({ id: activity.id.href });
    }
    case "/control/unlike":
    case "/control/unboost": {
      const kind = url.pathname.slice("/control/un".length);
      const entry = sentActivities.get(`${kind} ${q.get("object")}`);
      if (entry == null) return new Response(`no ${kind} of that object`, { status: 404 });
      await send(ctx, entry.recipients,
        new Undo({ id: new URL(`#undo/${nextId()}`, me), actor: me, object: entry.activity,
          tos: entry.activity.toIds, ccs: entry.activity.ccIds }),
        kind === "boost");
      return new Response("ok");
    }
  }
  return new Response("not found", { status: 404 });
}

// proofOf is "none" for an activity without a proof, "verified" when
// Fedify's verifyObject verifies every proof it has against the keys its
// verificationMethods name (and they belong to its actor), else "failed".
async function proofOf(ctx, raw) {
  if (raw.proof == null) return "none";
  try {
    const verified = await verifyObject(Activity, raw, {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
    return verified != null ? "verified" : "failed";
  } catch (e) {
    return `failed: ${e?.message ?? e}`;
  }
}

// record keeps an activity an inbox accepted, as it was posted.
function record(raw, inbox, standard, alg) {
  const object = typeof raw.object === "string" ? { id: raw.object } : (raw.object ?? {});
  received.push({
    type: raw.type ?? null,
    id: raw.id ?? null,
    actor: typeof raw.actor === "string" ? raw.actor : raw.actor?.id ?? null,
    object: object.id ?? null,
    content: object.content ?? null,
    standard,
    alg,
    inbox,
    raw,
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const origin = `http://${req.headers.host}`;
    const url = new URL(req.url, origin);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    let response;
    if (url.pathname.startsWith("/control/")) {
      response = await control(url, origin);
    } else {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
        else if (v != null) headers.set(k, v);
      }
      const request = new Request(url, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      response = await inbound.fetch(request, { contextData: undefined });
      if (req.method === "POST") {
        console.log(`${req.method} ${url.pathname} -> ${response.status}`);
        if (response.ok) {
          // Fedify answered 2xx only after verifying the signature.
          let raw = null;
          try { raw = JSON.parse(body.toString("utf8")); } catch { /* Fedify refused it already */ }
          const input = headers.get("signature-input");
          const alg = input?.match(/;alg="([^"]*)"/)?.[1] ?? null;
          if (raw != null) record(raw, url.pathname, input != null ? "rfc9421" : "draft-cavage", alg);
        }
      }
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    console.error(e);
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(e?.stack ?? e));
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
