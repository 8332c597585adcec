-- The hand-written floor for scripts/bench-cleartokens.sh: DOT 3.4.1's six cleartokens steps, the
-- same deletions and Django's SET NULL / CASCADE work, as plain SQL batched 10,000 by primary key
-- range, one transaction per batch (a procedure that COMMITs after every batch).
CREATE OR REPLACE PROCEDURE oauthq_bench_floor(now timestamptz, revoked_cutoff timestamptz,
                                               expire_cutoff timestamptz, batch bigint)
LANGUAGE plpgsql AS $$
DECLARE lo bigint; hi bigint;
BEGIN
    -- 1. revoked refresh tokens
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_refreshtoken;
    WHILE revoked_cutoff IS NOT NULL AND lo <= hi LOOP
        UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (
            SELECT id FROM oauth2_provider_refreshtoken WHERE id >= lo AND id < lo + batch AND revoked <= revoked_cutoff);
        DELETE FROM oauth2_provider_refreshtoken WHERE id >= lo AND id < lo + batch AND revoked <= revoked_cutoff;
        COMMIT; lo := lo + batch;
    END LOOP;
    -- 2. orphaned refresh tokens
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_refreshtoken;
    WHILE lo <= hi LOOP
        UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL WHERE source_refresh_token_id IN (
            SELECT id FROM oauth2_provider_refreshtoken WHERE id >= lo AND id < lo + batch
              AND access_token_id IS NULL AND revoked IS NULL);
        DELETE FROM oauth2_provider_refreshtoken WHERE id >= lo AND id < lo + batch
          AND access_token_id IS NULL AND revoked IS NULL;
        COMMIT; lo := lo + batch;
    END LOOP;
    -- 3. idle-expired refresh tokens
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_refreshtoken;
    WHILE expire_cutoff IS NOT NULL AND lo <= hi LOOP
        CREATE TEMP TABLE IF NOT EXISTS floor_ids (id bigint) ON COMMIT DELETE ROWS;
        INSERT INTO floor_ids SELECT rt.id FROM oauth2_provider_refreshtoken rt
            JOIN oauth2_provider_accesstoken at ON rt.access_token_id = at.id
            WHERE rt.id >= lo AND rt.id < lo + batch AND at.expires <= expire_cutoff AND rt.revoked IS NULL;
        UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL
            WHERE source_refresh_token_id IN (SELECT id FROM floor_ids);
        DELETE FROM oauth2_provider_refreshtoken WHERE id IN (SELECT id FROM floor_ids);
        COMMIT; lo := lo + batch;
    END LOOP;
    -- 4. expired access tokens with no refresh token pointing at them
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_accesstoken;
    WHILE lo <= hi LOOP
        CREATE TEMP TABLE IF NOT EXISTS floor_ids (id bigint) ON COMMIT DELETE ROWS;
        INSERT INTO floor_ids SELECT at.id FROM oauth2_provider_accesstoken at
            WHERE at.id >= lo AND at.id < lo + batch AND at.expires < now
              AND NOT EXISTS (SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id);
        UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL WHERE access_token_id IN (SELECT id FROM floor_ids);
        DELETE FROM oauth2_provider_accesstoken WHERE id IN (SELECT id FROM floor_ids);
        COMMIT; lo := lo + batch;
    END LOOP;
    -- 5. expired ID tokens with no access token pointing at them (CASCADE cannot apply: none points)
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_idtoken;
    WHILE lo <= hi LOOP
        DELETE FROM oauth2_provider_idtoken idt WHERE idt.id >= lo AND idt.id < lo + batch AND idt.expires < now
          AND NOT EXISTS (SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id);
        COMMIT; lo := lo + batch;
    END LOOP;
    -- 6. expired grants
    SELECT min(id), max(id) INTO lo, hi FROM oauth2_provider_grant;
    WHILE lo <= hi LOOP
        DELETE FROM oauth2_provider_grant WHERE id >= lo AND id < lo + batch AND expires < now;
        COMMIT; lo := lo + batch;
    END LOOP;
END $$;
