using KafkaConsumerProxy.Cli;

namespace KafkaConsumerProxy.Tests.Cli;

public sealed class CliAppTests
{
    [Fact]
    public void OneLine_ExceptionWithInnerAndLineBreaks_TypeMessageAndInnerOnOneLine_Issue7()
    {
        var ex = new InvalidOperationException("cannot do it\nsecond line", new IOException("disk full"));

        Assert.Equal("InvalidOperationException: cannot do it second line -> disk full", CliApp.OneLine(ex));
    }
}
