-- v5: relay_queue.map_key: the message-map key that makes an item a no-op, so the statement that hands it out answers its duplicate check
-- NULL for items that name none (and for items queued before this version: their handlers look the map up, as before).
ALTER TABLE relay_queue ADD COLUMN map_key jsonb;
