namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>
/// The <c>```yaml</c> blocks of README.md and docs/*.md. A block right after a line <c>&lt;!-- schema: skip (why) --&gt;</c>
/// is marked as not a kcp file on its own (alternatives listed one after another, another program's file).
/// </summary>
public static class DocExamples
{
    /// <summary>One block: where it is, its text, and whether it is marked to be skipped.</summary>
    public sealed record Block(string File, int Line, string Text, bool Skipped)
    {
        public override string ToString() => $"{File}:{Line}";
    }

    public static IReadOnlyList<Block> YamlBlocks()
    {
        var root = RepositoryRoot();
        var files = new[] { Path.Combine(root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal));
        var blocks = new List<Block>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() != "```yaml")
                    continue;
                var end = Array.FindIndex(lines, i + 1, l => l.Trim() == "```");
                var skipped = i > 0 && lines[i - 1].TrimStart().StartsWith("<!-- schema: skip", StringComparison.Ordinal);
                blocks.Add(new Block(Path.GetRelativePath(root, file), i + 1, string.Join('\n', lines[(i + 1)..end]) + "\n", skipped));
                i = end;
            }
        }

        return blocks;
    }

    /// <summary>The directory holding KafkaConsumerProxy.slnx, above the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KafkaConsumerProxy.slnx")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException("no KafkaConsumerProxy.slnx above " + AppContext.BaseDirectory);
    }
}
