-- v3: reserved (no change): number 3 belongs to another branch's migration; this file holds the place so 004 applies
-- Replace this file with that migration when the branches are merged (same number, same effect on a fresh database).
SELECT 1;
