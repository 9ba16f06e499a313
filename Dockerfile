# The sloburn worker image (docker-compose.yml builds it).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY configs ./configs
RUN pip install --no-cache-dir .
EXPOSE 6066
# Inside the compose network the web port must be reachable by Prometheus: bind all
# interfaces there; compose publishes it on the host's 127.0.0.1 only.
ENTRYPOINT ["sloburn"]
CMD ["worker", "--broker", "kafka:9092", "--web-host", "0.0.0.0", "--broker-compat", "none"]
