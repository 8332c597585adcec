-- For scripts/bench-cleartokens-breakdown.sh: oauthq's walk (the statements of ClearTokensWalk, as a
-- procedure that commits after every batch), with the SET NULL work of steps 1-3 optional, to find
-- out where the time of a clean-up goes. Not the product: the product is the Swift code.
CREATE OR REPLACE PROCEDURE oauthq_bench_walk(nowt timestamptz, c1 timestamptz, c3 timestamptz, batch bigint, do_unlink boolean)
LANGUAGE plpgsql AS $$
DECLARE lo bigint; n bigint;
BEGIN
  SELECT min(id) INTO lo FROM oauth2_provider_refreshtoken;
  WHILE lo IS NOT NULL LOOP
    WITH deleted AS (
      DELETE FROM oauth2_provider_refreshtoken rt WHERE rt.id >= lo AND rt.id <= lo + batch - 1
        AND (rt.revoked <= c1 OR (rt.revoked IS NULL AND rt.access_token_id IS NULL)
             OR (rt.revoked IS NULL AND EXISTS (SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id = rt.access_token_id AND at.expires <= c3 OFFSET 0)))
      RETURNING rt.id), unlinked AS (UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL
                                     WHERE do_unlink AND source_refresh_token_id IN (SELECT id FROM deleted))
    SELECT count(*) INTO n FROM deleted;
    COMMIT;
    SELECT min(id) INTO lo FROM oauth2_provider_refreshtoken WHERE id > lo + batch - 1;
  END LOOP;
  SELECT min(id) INTO lo FROM oauth2_provider_accesstoken;
  WHILE lo IS NOT NULL LOOP
    DELETE FROM oauth2_provider_accesstoken at WHERE at.id >= lo AND at.id <= lo + batch - 1 AND at.expires < nowt
      AND NOT EXISTS (SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id OFFSET 0);
    COMMIT;
    SELECT min(id) INTO lo FROM oauth2_provider_accesstoken WHERE id > lo + batch - 1;
  END LOOP;
  SELECT min(id) INTO lo FROM oauth2_provider_idtoken;
  WHILE lo IS NOT NULL LOOP
    DELETE FROM oauth2_provider_idtoken idt WHERE idt.id >= lo AND idt.id <= lo + batch - 1 AND idt.expires < nowt
      AND NOT EXISTS (SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id OFFSET 0);
    COMMIT;
    SELECT min(id) INTO lo FROM oauth2_provider_idtoken WHERE id > lo + batch - 1;
  END LOOP;
  SELECT min(id) INTO lo FROM oauth2_provider_grant;
  WHILE lo IS NOT NULL LOOP
    DELETE FROM oauth2_provider_grant g WHERE g.id >= lo AND g.id <= lo + batch - 1 AND g.expires < nowt;
    COMMIT;
    SELECT min(id) INTO lo FROM oauth2_provider_grant WHERE id > lo + batch - 1;
  END LOOP;
END $$;
