-- v4: people: remote users mapped to their own Matrix accounts, and the trail of who mapped whom
-- One Matrix account per remote user (a Matrix account may hold several remote users: a Slack and a
-- Telegram identity, or two workspaces). `method` says how it was proven: a one-time code the remote
-- user received (claim), an admin's word (admin), an exact unique e-mail match (email), a CSV file (csv).
CREATE TABLE person_mappings (
  network    text NOT NULL,
  user_ref   text NOT NULL,
  mxid       text NOT NULL,
  method     text NOT NULL CHECK (method IN ('claim', 'admin', 'email', 'csv')),
  by_mxid    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (network, user_ref)
);
CREATE INDEX person_mappings_mxid ON person_mappings (mxid);

-- Never updated or deleted: every map and unmap, for `mappings log` and the operator.
CREATE TABLE person_mapping_log (
  id       bigserial PRIMARY KEY,
  network  text NOT NULL,
  user_ref text NOT NULL,
  mxid     text NOT NULL,
  action   text NOT NULL CHECK (action IN ('map', 'unmap')),
  method   text NOT NULL,
  by_mxid  text NOT NULL,
  at       timestamptz NOT NULL DEFAULT now()
);
