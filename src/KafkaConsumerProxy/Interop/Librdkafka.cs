using System.Reflection;
using System.Runtime.InteropServices;

namespace KafkaConsumerProxy.Interop;

/// <summary>
/// Loads the librdkafka of the Confluent.Kafka package for the parts of it that Confluent.Kafka does not wrap, and
/// declares its configuration calls: configuration validation checks properties and builtin features with them, and
/// the embedded cluster (<c>Embedded/</c>) builds its handle with them.
/// </summary>
/// <remarks>
/// The library name is resolved by <see cref="Resolve"/> only, because the
/// default probe finds <c>librdkafka.so</c> first and that build needs <c>libsasl2.so.3</c>,
/// which Debian 12 does not ship. Confluent.Kafka falls back to <c>centos8-librdkafka.so</c> in
/// that case and so do we, which keeps both sides on the same native image.
/// </remarks>
internal static partial class Librdkafka
{
    /// <summary>The library name every <c>[LibraryImport]</c> of librdkafka names; only <see cref="Resolve"/> maps it.</summary>
    internal const string LibraryName = "kcp-embedded-librdkafka";

    internal const int RdKafkaConfOk = 0;

    /// <summary>The file names librdkafka.redist ships for glibc Linux, in the order Confluent.Kafka tries them.</summary>
    private static readonly string[] FileNames = ["librdkafka.so", "centos8-librdkafka.so"];

    private static readonly Lock LoadLock = new();
    private static nint s_handle;

    static Librdkafka()
    {
        NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, Resolve);
    }

    /// <summary>Full path (or plain name) of the library that was loaded, once one has been.</summary>
    internal static string? LoadedLibraryPath { get; private set; }

    /// <summary>Loads the native library now, so a missing dependency surfaces as one clear exception.</summary>
    internal static void EnsureLoaded() => Load();

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == LibraryName ? Load() : 0;

    private static nint Load()
    {
        lock (LoadLock)
        {
            if (s_handle != 0)
            {
                return s_handle;
            }

            string[] candidates =
            [
                .. Directories().Distinct(StringComparer.Ordinal)
                    .SelectMany(directory => FileNames.Select(name => Path.Combine(directory, name))),
                "librdkafka",
            ];
            foreach (var candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out var handle))
                {
                    s_handle = handle;
                    LoadedLibraryPath = candidate;
                    return handle;
                }
            }

            throw new DllNotFoundException(
                "Could not load librdkafka for the embedded Kafka cluster. Tried: "
                + string.Join(", ", candidates)
                + ". If librdkafka.so is present but fails to load, it is probably missing libsasl2.so.3: "
                + "install it with 'apt-get install libsasl2-2'.");
        }
    }

    /// <summary>Where the native library may be, most specific first.</summary>
    /// <remarks>
    /// A framework-dependent build keeps the native libraries under <c>runtimes/{rid}/native</c>; a self-contained
    /// (<c>-r linux-x64</c>) publish puts them next to the executable; a single-file build with
    /// <c>IncludeNativeLibrariesForSelfExtract</c> extracts them to a directory of its own
    /// (<c>DOTNET_BUNDLE_EXTRACT_BASE_DIR</c>, by default under <c>$HOME/.net</c>), which the host names in
    /// <c>NATIVE_DLL_SEARCH_DIRECTORIES</c> as it does for every <c>[DllImport]</c>, Confluent.Kafka's included, while
    /// <see cref="AppContext.BaseDirectory"/> stays the executable's directory.
    /// </remarks>
    internal static IEnumerable<string> Directories()
    {
        var rid = "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        yield return Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native");
        yield return AppContext.BaseDirectory;
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirectories)
        {
            foreach (var directory in searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                yield return directory;
            }
        }
    }

    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_conf_new();

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_conf_destroy(nint conf);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int rd_kafka_conf_get(nint conf, string name, byte* dest, nuint* destSize);
}
