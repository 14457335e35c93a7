-- v2: placeholder for migration 002, which another branch adds (replaced by it on merge)
SELECT 1;
