// A small Fedify server that Starling's interop test (cmd/starling/fedify_test.go)
// federates with on loopback. It is an independent ActivityPub
// implementation: nothing here is Starling code, and Fedify verifies every
// signature Starling sends (skipSignatureVerification stays false).
//
// One actor, /users/fedi. It accepts every Follow, and records every activity
// its inbox accepts, with the signature standard the request carried. The
// test drives it over a small control API:
//
//   POST /control/follow?target=URI&knock=SPEC   follow a Starling actor
//   POST /control/post?to=URI&content=HTML&knock=SPEC   send a public Note to that actor
//   GET  /control/inbox                          what the inbox accepted (JSON)
//   GET  /control/sent                           every POST Fedify sent, with its
//                                                signature standard and answer (JSON)
//
// SPEC is the signature standard Fedify knocks with first:
// "rfc9421" (Fedify's default) or "draft-cavage-http-signatures-12".
//
// Usage: node peer.mjs PORT  (prints "listening on PORT" when ready)

import http from "node:http";
import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Create,
  Endpoints,
  Follow,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Undo,
} from "@fedify/vocab";

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
  const response = await realFetch(request);
  if (request.method === "POST") {
    sent.push({ url: request.url, standard, status: response.status });
  }
  return response;
};
const identifier = "fedi";
const keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")];

// What the inbox accepted: { type, id, actor, content, standard, status }.
const received = [];
// Signature standard of the request being handled, by activity id.
const standards = new Map();

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
        url: ctx.getActorUri(id),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((k) => k.multikey),
      });
    })
    .setKeyPairsDispatcher(async (_ctx, id) => (id === identifier ? keyPairs : []));

  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Follow, async (ctx, follow) => {
      record(follow, "Follow");
      if (follow.objectId?.href !== ctx.getActorUri(identifier).href) return;
      const follower = await follow.getActor();
      if (follower == null) return;
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
    .on(Accept, async (_ctx, accept) => record(accept, "Accept"))
    .on(Undo, async (_ctx, undo) => record(undo, "Undo"))
    .on(Create, async (_ctx, create) => {
      const object = await create.getObject();
      record(create, "Create", object?.content?.toString() ?? null);
    });
  return federation;
}

function record(activity, type, content = null) {
  received.push({
    type,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    content,
    standard: standards.get(activity.id?.href) ?? null,
  });
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

async function control(url, origin) {
  if (url.pathname === "/control/inbox") {
    return Response.json(received);
  }
  if (url.pathname === "/control/sent") {
    return Response.json(sent);
  }
  const fed = federationFor(url);
  const ctx = fed.createContext(new URL(origin), undefined);
  const target = await ctx.lookupObject(url.searchParams.get("target") ?? url.searchParams.get("to"));
  if (target == null || target.inboxId == null) {
    return new Response("target not found", { status: 404 });
  }
  const me = ctx.getActorUri(identifier);
  if (url.pathname === "/control/follow") {
    await ctx.sendActivity(
      { identifier },
      target,
      new Follow({ id: new URL(`#follows/${Date.now()}`, me), actor: me, object: target.id }),
    );
    return new Response("ok");
  }
  if (url.pathname === "/control/post") {
    const noteId = new URL(`/notes/${Date.now()}`, origin);
    const note = new Note({
      id: noteId,
      attribution: me,
      content: url.searchParams.get("content") ?? "",
      to: PUBLIC_COLLECTION,
    });
    await ctx.sendActivity(
      { identifier },
      target,
      new Create({ id: new URL(`${noteId.href}/activity`), actor: me, object: note, to: PUBLIC_COLLECTION }),
    );
    return Response.json({ id: noteId.href });
  }
  return new Response("not found", { status: 404 });
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
      if (req.method === "POST") {
        let id = null;
        try { id = JSON.parse(body.toString("utf8")).id; } catch { /* Fedify answers */ }
        if (id) standards.set(id, headers.has("signature-input") ? "rfc9421" : "draft-cavage");
      }
      const request = new Request(url, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      response = await inbound.fetch(request, { contextData: undefined });
      if (req.method === "POST") {
        console.log(`${req.method} ${url.pathname} -> ${response.status}`);
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
