-- v3: empty on purpose (its number was held for a parallel branch, which landed without a migration)
-- Databases have recorded version 3 as applied, so the file stays; a new migration takes the next
-- free number, never 3.
SELECT 1;
