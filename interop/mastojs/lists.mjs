// Lists, filters (v2 and v1) and followed hashtags driven through
// masto.js, unchanged, as Elk and Phanpy drive them (JSON bodies, DELETE
// with a body, keywords_attributes with _destroy). It prints one JSON
// object of results on stdout; cmd/starling/mastojs_lists_test.go checks
// them.
//
//   node lists.mjs BASE_URL TOKEN FOLLOWED_ACCOUNT_ID STATUS_ID

import { createRestAPIClient } from "masto";

const [base, token, accountId, statusId] = process.argv.slice(2);
if (!base || !token || !accountId || !statusId) {
  console.error("usage: node lists.mjs BASE_URL TOKEN FOLLOWED_ACCOUNT_ID STATUS_ID");
  process.exit(2);
}
const out = {};
process.on("uncaughtException", (err) => {
  console.error("failed after", JSON.stringify(out), err?.message ?? err);
  process.exit(1);
});
const m = createRestAPIClient({ url: base, accessToken: token });

// Lists.
const list = await m.v1.lists.create({ title: "masto.js list", exclusive: false });
out.list = { title: list.title, repliesPolicy: list.repliesPolicy, exclusive: list.exclusive };
await m.v1.lists.$select(list.id).accounts.create({ accountIds: [accountId] });
out.members = (await m.v1.lists.$select(list.id).accounts.list()).map((a) => a.id);
const renamed = await m.v1.lists.$select(list.id).update({ title: "renamed", exclusive: true });
out.renamed = { title: renamed.title, exclusive: renamed.exclusive };
out.lists = (await m.v1.lists.list()).map((l) => l.title);
out.accountLists = (await m.v1.accounts.$select(accountId).lists.list()).map((l) => l.title);
out.listTimeline = (await m.v1.timelines.list.$select(list.id).list()).map((s) => s.id);
await m.v1.lists.$select(list.id).accounts.remove({ accountIds: [accountId] });
out.membersAfterRemove = (await m.v1.lists.$select(list.id).accounts.list()).length;
await m.v1.lists.$select(list.id).remove();
out.listsAfterDelete = (await m.v1.lists.list()).length;

// Filters, v2.
const f = await m.v2.filters.create({
  title: "masto.js", context: ["home", "public"], filterAction: "warn", expiresIn: 3600,
  keywordsAttributes: [{ keyword: "kiwi", wholeWord: true }, { keyword: "mango" }],
});
out.filter = { title: f.title, context: f.context, action: f.filterAction, keywords: f.keywords.map((k) => k.keyword), expires: Boolean(f.expiresAt) };
out.warned = (await m.v1.timelines.home.list()).find((s) => s.id === statusId)?.filtered?.map((r) => r.keywordMatches.join(","));
const f2 = await m.v2.filters.$select(f.id).update({
  filterAction: "hide",
  keywordsAttributes: [{ id: f.keywords[1].id, _destroy: true }, { keyword: "papaya", wholeWord: false }],
});
out.updated = { action: f2.filterAction, keywords: f2.keywords.map((k) => `${k.keyword}:${k.wholeWord}`) };
out.hidden = !(await m.v1.timelines.home.list()).some((s) => s.id === statusId);
const kw = await m.v2.filters.$select(f.id).keywords.create({ keyword: "lime" });
const kw2 = await m.v2.filters.keywords.$select(kw.id).update({ keyword: "lemon", wholeWord: false });
out.keyword = `${kw2.keyword}:${kw2.wholeWord}`;
out.keywords = (await m.v2.filters.$select(f.id).keywords.list()).map((k) => k.keyword);
await m.v2.filters.keywords.$select(kw.id).remove();
const fs = await m.v2.filters.$select(f.id).statuses.create({ statusId });
out.filterStatus = (await m.v2.filters.statuses.$select(fs.id).fetch()).statusId === statusId;
await m.v2.filters.statuses.$select(fs.id).remove();
out.filters = (await m.v2.filters.list()).map((x) => x.title);

// Filters, v1.
const v1 = await m.v1.filters.create({ phrase: "durian", context: ["home"], irreversible: true });
out.v1 = { phrase: v1.phrase, irreversible: v1.irreversible, wholeWord: v1.wholeWord };
out.v1List = (await m.v1.filters.list()).map((x) => x.phrase);
await m.v1.filters.$select(v1.id).remove();
await m.v2.filters.$select(f.id).remove();
out.filtersAfterDelete = (await m.v2.filters.list()).length;

// Followed hashtags.
out.tagBefore = (await m.v1.tags.$select("Kiwi").fetch()).following;
out.tagFollowed = (await m.v1.tags.$select("Kiwi").follow()).following;
out.followedTags = (await m.v1.followedTags.list()).map((t) => t.name);
out.tagUnfollowed = (await m.v1.tags.$select("Kiwi").unfollow()).following;

console.log(JSON.stringify(out));
