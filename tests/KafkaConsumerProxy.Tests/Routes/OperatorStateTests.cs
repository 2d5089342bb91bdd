using KafkaConsumerProxy.Routes;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaConsumerProxy.Tests.Routes;

public sealed class OperatorStateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kcp-opstate-").FullName;

    [Fact]
    public void Set_ThenNewInstance_ReadsWhatWasSetAndLeavesNoTemporaryFile()
    {
        var state = new OperatorState(_dir, NullLogger.Instance);
        state.Set("a", paused: true, stopped: false);
        state.Set("b", paused: false, stopped: true);
        state.Set("c", paused: true, stopped: false);
        state.Set("c", paused: false, stopped: false);

        var again = new OperatorState(_dir, NullLogger.Instance);
        Assert.Equal((true, false), again.Get("a"));
        Assert.Equal((false, true), again.Get("b"));
        Assert.Equal((false, false), again.Get("c"));
        Assert.Equal((false, false), again.Get("unknown"));
        Assert.Equal(["routes.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("[1,2]")]
    public void Constructor_DamagedFile_IgnoredSoKcpStarts(string content)
    {
        File.WriteAllText(Path.Combine(_dir, "routes.json"), content);

        var state = new OperatorState(_dir, NullLogger.Instance);

        Assert.Equal((false, false), state.Get("a"));
        state.Set("a", true, false);
        Assert.Equal((true, false), new OperatorState(_dir, NullLogger.Instance).Get("a"));
    }

    [Fact]
    public void Set_FileCannotBeWritten_KeptInMemoryAndDoesNotThrow()
    {
        // routes.json is a directory: the rename fails, as on a read-only or full disk.
        Directory.CreateDirectory(Path.Combine(_dir, "routes.json"));
        var state = new OperatorState(_dir, NullLogger.Instance);

        state.Set("a", true, false);

        Assert.Equal((true, false), state.Get("a"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
