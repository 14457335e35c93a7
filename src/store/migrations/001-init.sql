-- v1: logins, portals, portal_links, cutover_changes, ghosts, messages, reactions, relay_queue, kv
-- Runs identically on PGlite and PostgreSQL 15. Times are timestamptz, strings text.

-- One row per connected account (a Slack workspace app, a Telegram bot).
CREATE TABLE logins (
  id          text PRIMARY KEY,               -- "slack:T0001" / "telegram:7001"
  network     text NOT NULL,
  owner_mxid  text NOT NULL,
  remote_id   text NOT NULL,
  name        text NOT NULL DEFAULT '',
  secrets_enc text NOT NULL,                  -- "v1:<iv>:<tag>:<ciphertext>" or "plain:<json>" (see secrets.ts)
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX logins_owner ON logins (owner_mxid);

-- One row per bridged Matrix room.
CREATE TABLE portals (
  room_id    text PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('portal', 'linked')),
  owner_mxid text,
  phase      text NOT NULL DEFAULT 'parallel' CHECK (phase IN ('parallel', 'matrix-primary', 'standby')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Room <-> remote chat, several per room; a remote chat is linked to one room at most.
CREATE TABLE portal_links (
  room_id    text NOT NULL REFERENCES portals (room_id) ON DELETE CASCADE,
  network    text NOT NULL,
  chat       text NOT NULL,
  login_id   text NOT NULL,
  name       text NOT NULL DEFAULT '',
  alias      text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT portal_links_chat UNIQUE (network, chat)
);
CREATE INDEX portal_links_room ON portal_links (room_id);
CREATE INDEX portal_links_login ON portal_links (login_id);

-- Audit of cutover phase changes; kept when the portal is deleted.
CREATE TABLE cutover_changes (
  id         bigserial PRIMARY KEY,
  room_id    text NOT NULL,
  from_phase text NOT NULL,
  to_phase   text NOT NULL,
  by_mxid    text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cutover_changes_room ON cutover_changes (room_id, id);

-- Remote users as Matrix ghosts.
CREATE TABLE ghosts (
  mxid          text PRIMARY KEY,
  network       text NOT NULL,
  user_ref      text NOT NULL,
  display_name  text,
  avatar_source text,
  avatar_mxc    text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ghosts_user UNIQUE (network, user_ref)
);

-- Message map: one row per (remote message part, room); one Matrix event may map to several networks.
CREATE TABLE messages (
  room_id            text NOT NULL,
  event_id           text NOT NULL,
  network            text NOT NULL,
  chat               text NOT NULL,
  remote_ref         text NOT NULL,
  part               int  NOT NULL DEFAULT 0,
  origin             text NOT NULL CHECK (origin IN ('remote', 'matrix')),
  sender_mxid        text NOT NULL,
  thread_root_event  text,
  thread_root_remote text,
  -- When the bridge received the source event (remote event or Matrix transaction): the
  -- parity audit's latency is created_at - received_at, read from the map itself.
  received_at        timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT messages_remote UNIQUE (network, remote_ref, part, room_id)
);
CREATE INDEX messages_event ON messages (event_id);
CREATE INDEX messages_room_time ON messages (room_id, created_at);

-- Reactions: one row per Matrix m.reaction event and network it reached (a room linked to
-- Slack and Telegram maps one Matrix reaction to one reaction on each).
CREATE TABLE reactions (
  event_id        text NOT NULL,
  room_id         text NOT NULL,
  target_event_id text NOT NULL,
  network         text NOT NULL,
  chat            text NOT NULL,
  target_remote   text NOT NULL,
  sender_mxid     text NOT NULL,
  emoji           text NOT NULL,
  origin          text NOT NULL CHECK (origin IN ('remote', 'matrix')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, network)
);
CREATE INDEX reactions_target ON reactions (target_event_id, emoji);
CREATE INDEX reactions_remote ON reactions (target_remote, sender_mxid, emoji);

-- Durable relay queue: one ordered worker per lane, items applied in id order.
CREATE TABLE relay_queue (
  id              bigserial PRIMARY KEY,
  lane            text NOT NULL,
  source_key      text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
  attempts        int  NOT NULL DEFAULT 0,       -- failed attempts recorded
  tries           int  NOT NULL DEFAULT 0,       -- times handed to a worker (> attempts + 1 after a crash mid-item)
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  done_at         timestamptz,
  CONSTRAINT relay_queue_source UNIQUE (source_key)
);
-- The head of a lane: lowest pending id.
CREATE INDEX relay_queue_lane_pending ON relay_queue (lane, id) WHERE status = 'pending';
-- Ready lanes: pending items in id order with their due time (index-only scan, skips done rows).
CREATE INDEX relay_queue_ready ON relay_queue (id, next_attempt_at, lane) WHERE status = 'pending';
-- The parity audit and status page read the queue by time window.
CREATE INDEX relay_queue_created ON relay_queue (created_at);
-- Pruning done items.
CREATE INDEX relay_queue_done ON relay_queue (done_at) WHERE status = 'done';

-- Small bridge-wide state (e.g. the bot's profile hash, last sync cursor).
CREATE TABLE kv (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
