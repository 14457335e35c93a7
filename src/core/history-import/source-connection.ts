/**
 * A Connection for the parts of the core that set up ghosts and portals (GhostManager,
 * PortalDirectory) during an import: profiles, chat info and files come from the source, so an
 * export of a workspace without a live login still gets its ghosts and rooms. Avatars come from
 * the live login when there is one. Sending is never needed by an import, and refused.
 */
import { RemoteError } from "../errors.js";
import type { Connection } from "../connector.js";
import type { HistoryConversation, HistorySource } from "../history-source.js";

export function sourceConnection(source: HistorySource, conv: HistoryConversation, live?: Connection): Connection {
  const refuse = (what: string) => () => Promise.reject(new RemoteError("import_only", `${what} is not available during an import`, { retryable: false }));
  const conn: Connection = {
    send: refuse("sending"), edit: refuse("editing"), delete: refuse("deleting"), react: refuse("reacting"),
    listChats: refuse("listing chats"),
    resolveChat: (input) => live?.resolveChat(input) ?? Promise.resolve(null),
    chatInfo: (chat) => chat === conv.chat ? Promise.resolve(conv.info) : live ? live.chatInfo(chat) : refuse("chat info")(),
    userInfo: (user) => source.userInfo(user),
    download: (file) => source.download(file),
    downloadAvatar: (avatar) => live ? live.downloadAvatar(avatar) : refuse("avatars")(),
    isOwnUser: (user) => live?.isOwnUser(user) ?? false,
    stop: () => Promise.resolve(),
  };
  return conn;
}
