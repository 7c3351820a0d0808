#!/bin/sh
# docker compose's one-shot `init` service. It makes what the gateway and the workers
# read from the clientkeys-secrets volume, once: the encryption keyring and a first
# admin API token. A later start finds both and changes nothing.
# The token is printed here, once (`docker compose logs init`); only its hash is kept.
# Then the broker users (broker_users.py): each process's own AMQP URL and password in
# a volume of its own, and the definitions RabbitMQ loads, with the password hashes.
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
# Where docker-compose.yml mounts them (the tests run it elsewhere).
python3 "${BROKER_USERS_SCRIPT:-/usr/local/lib/clientkeys/broker_users.py}" \
  "${BROKER_DEFINITIONS_TEMPLATE:-/etc/clientkeys/definitions.json}" \
  "${BROKER_DIR:-/var/lib/clientkeys-broker}"
echo "init: keyring, tokens and broker users are in place"
