# The MLflow server of docker-compose.yml: MLflow's own image plus what the server needs
# for PostgreSQL (psycopg), MinIO/S3 artifacts (boto3) and the basic-auth app (Flask-WTF).
# Versions as in uv.lock, so the server matches the clients.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" "psycopg[binary]==3.3.9" "boto3==1.43.117"
# The team-auth app (src/mlops_template/release/champion_guard.py): MLflow's basic auth,
# and only the accounts in MLOPS_CHAMPION_USERS move `champion`.
COPY src/mlops_template/release/champion_guard.py /opt/team-auth/team_auth.py
COPY deploy/team_auth.toml /opt/team-auth/pyproject.toml
RUN pip install --no-cache-dir --no-deps /opt/team-auth
