# syntax=docker/dockerfile:1
# Build: a static binary, built by the same script CI uses.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN .ci/build /out/facade

# Run: nothing but the binary and CA certificates, as an unprivileged user. Time zone data is
# inside the binary.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/facade /facade
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/facade"]
