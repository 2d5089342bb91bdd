#!/usr/bin/env bash
# Builds kcp's release artefacts: one self-contained single-file executable per runtime identifier, with the .NET
# runtime and librdkafka inside (extracted at first start to $DOTNET_BUNDLE_EXTRACT_BASE_DIR, by default $HOME/.net).
#
#   deploy/release/build.sh [RID...]     default: linux-x64 linux-arm64
#
# Writes out/release/<rid>/kcp and prints each file's size. Needs the .NET 10 SDK and NuGet (the runtime packs of
# each RID are restored from it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rids=("$@")
if [ ${#rids[@]} -eq 0 ]; then
    rids=(linux-x64 linux-arm64)
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 MSBUILDTERMINALLOGGER=off MSBUILDDISABLENODEREUSE=1
for rid in "${rids[@]}"; do
    out="out/release/$rid"
    rm -rf "$out"
    echo "== dotnet publish -r $rid (self-contained, single file)"
    # IncludeNativeLibrariesForSelfExtract puts librdkafka inside the one file; kcp finds it where the host
    # extracts it (src/KafkaConsumerProxy/Interop/Librdkafka.cs). DebugType=none: no kcp.pdb beside it. kcp's project
    # makes a publish for a runtime identifier ReadyToRun with tier 0 off (PublishReadyToRun=false: JIT only).
    dotnet publish src/KafkaConsumerProxy -c Release -r "$rid" --self-contained \
        -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none \
        -o "$out" -v quiet -nologo
    ls "$out"
    [ "$(ls "$out")" = kcp ] || { echo "expected out/release/$rid to hold only kcp" >&2; exit 1; }
    size=$(stat -c %s "$out/kcp")
    echo "out/release/$rid/kcp: $size bytes ($((size / 1048576)) MiB)"
done
