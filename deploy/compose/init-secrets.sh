#!/bin/sh
# docker compose's one-shot `init` service. It makes what the gateway and the workers
# read from the clientkeys-secrets volume, once: the encryption keyring and a first
# admin API token. A later start finds both and changes nothing.
# The token is printed here, once (`docker compose logs init`); only its hash is kept.
set -eu
umask 077

if [ ! -s "$CLIENTKEYS_ENCRYPTION_KEYS_FILE" ]; then
  clientkeys keys new k1 > "$CLIENTKEYS_ENCRYPTION_KEYS_FILE.new"
  mv "$CLIENTKEYS_ENCRYPTION_KEYS_FILE.new" "$CLIENTKEYS_ENCRYPTION_KEYS_FILE"
  echo "init: made the encryption keyring $CLIENTKEYS_ENCRYPTION_KEYS_FILE" \
       "(volume clientkeys-secrets): losing it loses every stored secret; back it up"
fi

if [ ! -s "$CLIENTKEYS_TOKENS_FILE" ]; then
  token=$(clientkeys tokens create --subject admin --permission configure_server)
  echo "init: admin API token, shown this once (only its hash is stored): $token"
fi
echo "init: keyring and tokens are in place"
