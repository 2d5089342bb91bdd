using System.Runtime.InteropServices;
using KafkaConsumerProxy.Interop;

namespace KafkaConsumerProxy.Tests.Interop;

public sealed class LibrdkafkaTests
{
    [Fact]
    public void Directories_ThisProcessArchitecture_StartWithItsRuntimesFolderThenTheBaseDirectory()
    {
        var directories = Librdkafka.Directories().ToList();

        var rid = RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native"), directories[0]);
        Assert.Equal(AppContext.BaseDirectory, directories[1]);
    }

    [Fact]
    public void Directories_HostsNativeSearchDirectories_AreProbedAsASingleFileBuildExtractsThere_Issue18()
    {
        // A single-file build with IncludeNativeLibrariesForSelfExtract extracts librdkafka to a directory of its own
        // and names it only here; AppContext.BaseDirectory stays the executable's directory.
        var searchDirectories = AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string;
        Assert.False(string.IsNullOrEmpty(searchDirectories));

        var directories = Librdkafka.Directories().ToList();

        foreach (var directory in searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.Contains(directory, directories);
        }
    }
}
