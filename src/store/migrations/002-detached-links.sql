-- v2: portal_links.detached_at: the link's login was logged out; the link stays and waits for a new login
-- NULL: attached (relaying). A time: `logout` detached it then; Matrix messages for the chat wait
-- (bounded by bridge.detached_wait_minutes) and go out once the same account logs in again.
ALTER TABLE portal_links ADD COLUMN detached_at timestamptz;
