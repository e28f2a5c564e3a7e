# Airflow 3 image with Corridor installed (used by docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11
USER airflow
COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/corridor/
COPY --chown=airflow:root plugins /opt/corridor/plugins
RUN pip install --no-cache-dir -c /opt/corridor/constraints.txt -e /opt/corridor
