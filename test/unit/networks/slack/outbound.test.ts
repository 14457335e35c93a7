// What the connector asks of the Web API (as the fake received it), the errors it maps, and the
// workspace directory: chat and user info, listing, resolving, downloads.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection, OutboundMessage } from "../../../../src/core/connector.js";
import { Deferred, RemoteError } from "../../../../src/core/errors.js";
import { splitText, slackReactionName } from "../../../../src/networks/slack/outbound.js";
import { FakeSlack, type TeamHandle } from "../../../fakes/slack.js";
import { PNG, connect, sleep } from "./support.js";

let slack: FakeSlack;
let team: TeamHandle;
let conn: Connection;
const chat = () => `${team.id}:C0001`;
const text = (t: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  doc: [{ type: "paragraph", children: [{ type: "text", text: t }] }], sender: { name: "Alice" }, sourceId: `$${t.replace(/\W/g, "")}`, ...extra,
});
const tsOf = (ref: string) => ref.split(":")[2]!;

beforeAll(async () => {
  slack = await FakeSlack.start({ ackTimeoutMs: 400, pingIntervalMs: 1000 });
  team = slack.createTeam({ id: "T0001", name: "Acme", domain: "acme" });
  slack.addUser(team, { id: "U0001", name: "carol", real_name: "Carol Danvers", display_name: "Carol" });
  slack.addUser(team, { id: "U0002", name: "dave", real_name: "Dave Lister" });
  slack.addUser(team, { id: "U0003", name: "ci-bot", real_name: "CI", is_bot: true, bot_id: "B0CI" });
  slack.addChannel(team, { id: "C0001", name: "general", members: ["U0001", "U0002"], botMember: true, topic: "All hands" });
  slack.addChannel(team, { id: "C0002", name: "random", members: ["U0001"], botMember: true, purpose: "Fun" });
  slack.addChannel(team, { id: "C0003", name: "elsewhere", members: ["U0001"] });
  slack.addChannel(team, { id: "C0004", name: "old", members: ["U0001"], botMember: true });
  slack.addChannel(team, { id: "D0001", is_im: true, user: "U0001" });
  slack.addChannel(team, { id: "D0002", is_im: true, user: "USLACKBOT" });
  slack.addChannel(team, { id: "G0001", is_mpim: true, members: ["U0001", "U0002"], botMember: true });
  ({ conn } = await connect(slack, team));
});
afterAll(async () => {
  await conn?.stop();
  await slack?.stop();
});

describe("Matrix → Slack requests", () => {
  it("chat.postMessage: mrkdwn text, username, icon_url, metadata with the Matrix event id", async () => {
    const refs = await conn.send(chat(), {
      doc: [{ type: "paragraph", children: [{ type: "bold", children: [{ type: "text", text: "hi" }] }, { type: "text", text: " " },
        { type: "mention", target: { kind: "remote", network: "slack", id: `${team.id}:U0001` }, text: "Carol" }, { type: "text", text: " and " },
        { type: "mention", target: { kind: "matrix", mxid: "@bob:example.org" }, text: "Bob" }] }],
      sender: { name: "Alice", avatarUrl: "https://bridge.example.org/avatar/abc" }, sourceId: "$ev1",
    });
    expect(refs).toHaveLength(1);
    const m = slack.message(team, "C0001", tsOf(refs[0]!))!;
    expect(m.text).toBe("*hi* <@U0001> and @Bob");
    expect(m._request).toEqual({ username: "Alice", icon_url: "https://bridge.example.org/avatar/abc" });
    expect(m.metadata).toEqual({ event_type: "tandem_matrix_event", event_payload: { event_id: "$ev1" } });
    expect(refs[0]).toBe(`${team.id}:C0001:${m.ts}`);
  });

  it("relayed from another network: username says via; no avatar means no icon_url", async () => {
    const [ref] = await conn.send(chat(), text("from telegram", { sender: { name: "Ivan", via: "Telegram" } }));
    expect(slack.message(team, "C0001", tsOf(ref!))!._request).toEqual({ username: "Ivan (Telegram)" });
  });

  it("threads: threadRoot gives thread_ts; a reply goes under the replied message's thread root", async () => {
    const root = slack.userPosts(team, "C0001", "U0001", "root");
    const inThread = slack.userPosts(team, "C0001", "U0002", "reply", { thread_ts: root });
    const [a] = await conn.send(chat(), text("thread msg", { threadRoot: `${team.id}:C0001:${root}` }));
    expect(slack.message(team, "C0001", tsOf(a!))!.thread_ts).toBe(root);
    const [b] = await conn.send(chat(), text("reply to root", { replyTo: `${team.id}:C0001:${root}` }));
    expect(slack.message(team, "C0001", tsOf(b!))!.thread_ts).toBe(root);
    const [c] = await conn.send(chat(), text("reply to reply", { replyTo: `${team.id}:C0001:${inThread}` }));
    expect(slack.message(team, "C0001", tsOf(c!))!.thread_ts).toBe(root);
    const calls = slack.calls.filter((x) => x.method === "chat.postMessage" && ["reply to reply"].includes(String(x.params.text)));
    expect(calls[0]!.params.thread_ts).toBe(root);
  });

  it("emote: italic with the sender's name", async () => {
    const [ref] = await conn.send(chat(), text("waves", { emote: true }));
    expect(slack.message(team, "C0001", tsOf(ref!))!.text).toBe("_Alice waves_");
  });

  it("edit → chat.update, delete → chat.delete (a missing message is not an error)", async () => {
    const [ref] = await conn.send(chat(), text("before"));
    await conn.edit(chat(), ref!, text("after"));
    expect(slack.message(team, "C0001", tsOf(ref!))!.text).toBe("after");
    const update = slack.calls.filter((c) => c.method === "chat.update").at(-1)!;
    expect(update.params).toMatchObject({ channel: "C0001", ts: tsOf(ref!), text: "after" });
    await conn.delete(chat(), ref!);
    expect(slack.message(team, "C0001", tsOf(ref!))).toBeUndefined();
    await conn.delete(chat(), ref!);
    await conn.edit(chat(), ref!, text("again"));
  });

  it("reactions: unicode → Slack names; repeats are fine; custom emoji go back by name", async () => {
    const ts = slack.userPosts(team, "C0001", "U0001", "react here");
    slack.addEmoji(team, "party_parrot");
    const ref = `${team.id}:C0001:${ts}`;
    await conn.react(chat(), ref, "👍", true);
    await conn.react(chat(), ref, "👍", true);
    await conn.react(chat(), ref, ":party_parrot:", true);
    expect(slack.reactions(team, "C0001", ts).map((r) => r.name)).toEqual(["+1", "party_parrot"]);
    expect(slack.calls.filter((c) => c.method === "reactions.add").at(-1)!.params).toMatchObject({ channel: "C0001", timestamp: ts, name: "party_parrot" });
    await conn.react(chat(), ref, "👍", false);
    await conn.react(chat(), ref, "👍", false);
    expect(slack.reactions(team, "C0001", ts).map((r) => r.name)).toEqual(["party_parrot"]);
    const err = await conn.react(chat(), ref, "not an emoji", true).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "unknown_emoji", retryable: false });
    expect(slackReactionName("👍🏽")).toBe("+1::skin-tone-4");
  });

  it("files: the v2 upload flow into the channel and thread; one ref per part, pointing at the file message", async () => {
    const root = slack.userPosts(team, "C0001", "U0001", "files below");
    const refs = await conn.send(chat(), {
      doc: [{ type: "paragraph", children: [{ type: "text", text: "a caption" }] }],
      files: [{ name: "pic.png", mime: "image/png", kind: "image", data: PNG, width: 16, height: 8 }],
      threadRoot: `${team.id}:C0001:${root}`, sender: { name: "Alice" }, sourceId: "$file1",
    });
    const methods = slack.calls.map((c) => c.method);
    expect(methods).toContain("files.getUploadURLExternal");
    expect(methods).toContain("files.completeUploadExternal");
    expect(methods).not.toContain("files.upload");
    const msg = slack.messages(team, "C0001").find((m) => m.subtype === "file_share" && m.thread_ts === root)!;
    expect(refs).toEqual([`${team.id}:C0001:${msg.ts}`, `${team.id}:C0001:${msg.ts}`]);
    expect(msg.text).toBe("*Alice*: a caption");
    const file = slack.file(String((msg.files![0] as { id: string }).id))!;
    expect(file).toMatchObject({ name: "pic.png", mimetype: "image/png", width: 16, height: 8 });
    expect(file.data.equals(PNG)).toBe(true);

    const [only] = await conn.send(chat(), { doc: [], files: [{ name: "notes.txt", mime: "text/plain", kind: "file", data: Buffer.from("hello") }], sender: { name: "Alice" }, sourceId: "$file2" });
    expect(slack.message(team, "C0001", tsOf(only!))).toMatchObject({ subtype: "file_share", text: "*Alice* sent notes.txt" });
  });

  it("maps Web API errors: permanent ones with a user message, rate limits retryable with Retry-After", async () => {
    const archived = `${team.id}:C0004`;
    slack.archiveChannel(team, "C0004", "U0001");
    expect(await conn.send(archived, text("x")).catch((e: unknown) => e)).toMatchObject({ code: "is_archived", retryable: false, userMessage: "the Slack channel is archived" });
    expect(await conn.send(`${team.id}:C0003`, text("x")).catch((e: unknown) => e)).toMatchObject({ code: "not_in_channel", retryable: false });
    expect(await conn.send(`${team.id}:C9999`, text("x")).catch((e: unknown) => e)).toMatchObject({ code: "channel_not_found", retryable: false });
    const carol = slack.userPosts(team, "C0001", "U0001", "not yours");
    expect(await conn.edit(chat(), `${team.id}:C0001:${carol}`, text("mine")).catch((e: unknown) => e)).toMatchObject({ code: "cant_update_message", retryable: false });
    slack.rateLimitNext("chat.postMessage", 1, 2);
    const limited = await conn.send(chat(), text("later")).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RemoteError);
    expect(limited).toMatchObject({ code: "ratelimited", retryable: true, retryAfterMs: 2000 });
  });

  it("long text is split into parts Slack accepts", async () => {
    expect(splitText("a\nb", 10)).toEqual(["a\nb"]);
    const long = ("x".repeat(30) + "\n").repeat(5);
    const parts = splitText(long, 70);
    expect(parts.every((p) => p.length <= 70)).toBe(true);
    expect(parts.join("\n")).toBe(long);
    expect(splitText("y".repeat(25), 10)).toEqual(["y".repeat(10), "y".repeat(10), "y".repeat(5)]);
  });

  it("a message longer than max_message_parts posts sends its first parts and the rest as one text file", async () => {
    const { conn: capped } = await connect(slack, team, undefined, { config: { bridge: { max_message_parts: 2 } } });
    try {
      const posts = () => slack.calls.filter((c) => c.method === "chat.postMessage").length;
      const before = posts();
      const long = Array.from({ length: 4 }, (_, i) => `${String(i)}`.repeat(39_000)).join("\n"); // 4 parts of Slack's size, with a < and &
      const refs = await capped.send(chat(), text(`${long}\n<&>`));
      expect(refs).toHaveLength(2);
      expect(posts() - before).toBe(1);
      const file = slack.files().find((f) => f.name === "message-continued.txt")!;
      expect(file).toBeDefined();
      const first = slack.message(team, "C0001", tsOf(refs[0]!))!.text ?? "";
      expect(first).toBe("0".repeat(39_000));
      expect(file.data.toString()).toBe(`${"1".repeat(39_000)}\n${"2".repeat(39_000)}\n${"3".repeat(39_000)}\n<&>`);
    } finally {
      await capped.stop();
    }
  });

  it("pacing: 1 post/s per channel after a burst of 4; a far slot is Deferred before anything is posted, a split message's later part waits", async () => {
    // A workspace of its own, so the other tests' listings stay as they are.
    const own = slack.createTeam({ id: "T0042", name: "Paced", domain: "paced" });
    slack.addChannel(own, { id: "C0042", name: "paced", members: [], botMember: true });
    slack.addChannel(own, { id: "C0043", name: "other", members: [], botMember: true });
    const { conn: paced } = await connect(slack, own, undefined, { pacing: true });
    try {
      const posts = () => slack.calls.filter((c) => c.method === "chat.postMessage" && c.params.channel === "C0042").length;
      const to = `${own.id}:C0042`;
      for (let i = 0; i < 3; i++) await paced.send(to, text(`paced ${i}`));
      // The 4th token goes to the first part; the second part waits about a second in place.
      const refs = await paced.send(to, text("z".repeat(50_000)));
      expect(refs).toHaveLength(2);
      expect(posts()).toBe(5);
      const err = await paced.send(to, text("one too many")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Deferred);
      expect((err as Deferred).retryAfterMs).toBeGreaterThan(250);
      expect(posts()).toBe(5);
      // Other channels have their own bucket.
      await paced.send(`${own.id}:C0043`, text("elsewhere, at once"));
    } finally {
      await paced.stop();
    }
  });
});

describe("the workspace directory", () => {
  it("chatInfo: channels, DMs and group DMs", async () => {
    expect(await conn.chatInfo(`${team.id}:C0001`)).toMatchObject({
      name: "general", kind: "channel", topic: "All hands", aliasLocalpart: "slack_acme_general", roomName: "general (Slack)", archived: false,
    });
    expect((await conn.chatInfo(`${team.id}:C0002`)).topic).toBe("Fun");
    const dm = await conn.chatInfo(`${team.id}:D0001`);
    expect(dm).toMatchObject({ name: "Carol", kind: "dm", roomName: "Carol", members: [`${team.id}:U0001`], aliasLocalpart: "slack_acme_d0001" });
    expect(dm.avatar).toMatch(/^http:\/\/127\.0\.0\.1/);
    const group = await conn.chatInfo(`${team.id}:G0001`);
    expect(group).toMatchObject({ kind: "group", roomName: "Carol, Dave Lister", members: [`${team.id}:U0001`, `${team.id}:U0002`] });
  });

  it("userInfo: display_name, else real_name; bots; bots without a user", async () => {
    expect(await conn.userInfo(`${team.id}:U0001`)).toMatchObject({ name: "Carol", isBot: false });
    expect(await conn.userInfo(`${team.id}:U0002`)).toMatchObject({ name: "Dave Lister" });
    const info = await conn.userInfo(`${team.id}:U0003`);
    expect(info).toMatchObject({ name: "CI", isBot: true });
    expect(await conn.userInfo(`${team.id}:B0CI`)).toMatchObject({ name: "ci-bot", isBot: true });
    const avatar = await conn.downloadAvatar(info.avatar!);
    expect(avatar.mime).toBe("image/png");
    expect(avatar.data.length).toBeGreaterThan(0);
  });

  it("listChats: conversations the bot is in, most recently active first, up to the limit", async () => {
    slack.userPosts(team, "C0002", "U0001", "random is busiest");
    await sleep(5);
    const all = await conn.listChats(10);
    expect(all[0]).toBe(`${team.id}:C0002`);
    expect(new Set(all)).toEqual(new Set([`${team.id}:C0001`, `${team.id}:C0002`, `${team.id}:D0001`, `${team.id}:G0001`]));
    expect(await conn.listChats(2)).toHaveLength(2);
    expect(await conn.listChats(0)).toEqual([]);
  });

  it("resolveChat: #name, name, id and <#id|name>", async () => {
    for (const input of ["#general", "general", "C0001", "<#C0001|general>", " #General "]) expect(await conn.resolveChat(input)).toBe(`${team.id}:C0001`);
    expect(await conn.resolveChat("#nope")).toBeNull();
    expect(await conn.resolveChat("C0NOPE00")).toBeNull();
  });

  it("download: url_private with the bot token; a sign-in page is refused", async () => {
    const ts = slack.userPosts(team, "C0001", "U0001", "a file", { files: [{ name: "pic.png", data: PNG }] });
    const f = slack.message(team, "C0001", ts)!.files![0] as { id: string; url_private_download: string };
    const got = await conn.download({ id: `${f.id}|${f.url_private_download}`, name: "pic.png", mime: "image/png", kind: "image" });
    expect(got.data.equals(PNG)).toBe(true);
    expect(got.mime).toBe("image/png");
    // Without a URL the connector asks files.info.
    expect((await conn.download({ id: f.id, name: "pic.png", mime: "image/png", kind: "image" })).data.equals(PNG)).toBe(true);
    // Another workspace's file: Slack answers with its sign-in page.
    const other = slack.createTeam({ id: "T0OTHER" });
    slack.addUser(other, { id: "U0009", name: "x" });
    slack.addChannel(other, { id: "C0009", name: "x", members: ["U0009"], botMember: true });
    const ots = slack.userPosts(other, "C0009", "U0009", "theirs", { files: [{ name: "pic.png", data: PNG }] });
    const of = slack.message(other, "C0009", ots)!.files![0] as { id: string; url_private: string };
    const err = await conn.download({ id: `${of.id}|${of.url_private}`, name: "pic.png", mime: "image/png", kind: "image" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "file_auth", retryable: false });
  });

  it("download: a URL off Slack's file hosts (the bridge's own status page on loopback) is refused, never fetched", async () => {
    const asked: string[] = [];
    const local = http.createServer((req, res) => { asked.push(req.url ?? ""); res.end('{"status":"ok"}'); });
    await new Promise<void>((r) => local.listen(0, "127.0.0.1", r));
    try {
      const status = `http://127.0.0.1:${(local.address() as AddressInfo).port}/status.json`;
      for (const url of [status, status.replace("http:", "https:"), "https://files.slack.com.evil.example/f", "https://10.0.0.1/f"]) {
        const err = await conn.download({ id: `F0EVIL|${url}`, name: "status.json", mime: "application/json", kind: "file" }).catch((e: unknown) => e);
        expect(err, url).toMatchObject({ code: "download_refused", retryable: false });
      }
      await expect(conn.downloadAvatar(status)).rejects.toMatchObject({ code: "download_refused" });
      expect(asked).toEqual([]);
    } finally {
      await new Promise((r) => local.close(r));
    }
  });

  it("download: the fake's loopback origin is allowed only by bridge.download_allowed_origins, never by default", async () => {
    const { conn: strict } = await connect(slack, team, undefined, { config: { bridge: { download_allowed_origins: "" } } });
    try {
      const ts = slack.userPosts(team, "C0001", "U0001", "another file", { files: [{ name: "pic.png", data: PNG }] });
      const f = slack.message(team, "C0001", ts)!.files![0] as { id: string; url_private_download: string };
      const ref = { id: `${f.id}|${f.url_private_download}`, name: "pic.png", mime: "image/png", kind: "image" as const };
      await expect(strict.download(ref)).rejects.toMatchObject({ code: "download_refused", retryable: false });
      expect((await conn.download(ref)).data.equals(PNG)).toBe(true);
    } finally {
      await strict.stop();
    }
  });
});
