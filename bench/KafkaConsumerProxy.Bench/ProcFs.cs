using System.Globalization;

namespace KafkaConsumerProxy.Bench;

/// <summary>Reads a process's CPU time and memory from /proc (Linux only).</summary>
internal static class ProcFs
{
    // USER_HZ, the unit of utime/stime in /proc/PID/stat: fixed at 100 by the Linux ABI on x86-64.
    private const int TicksPerSecond = 100;

    /// <summary>utime + stime of every thread of <paramref name="pid"/> (10 ms resolution), or null when it is gone.</summary>
    public static TimeSpan? CpuTime(int pid) => CpuTime($"/proc/{pid}/stat");

    private static TimeSpan? CpuTime(string statFile)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(statFile);
        }
        catch (IOException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((utime + stime) / (double)TicksPerSecond);
    }

    /// <summary>The ids of the threads of <paramref name="pid"/> whose name starts with <paramref name="threadNamePrefix"/>.</summary>
    public static IReadOnlyList<int> FindThreads(int pid, string threadNamePrefix)
    {
        var ids = new List<int>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith(threadNamePrefix, StringComparison.Ordinal))
                {
                    ids.Add(int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return ids;
    }

    /// <summary>utime + stime of the threads <paramref name="threadIds"/> of <paramref name="pid"/>; a thread that ended counts 0.</summary>
    public static TimeSpan ThreadsCpuTime(int pid, IReadOnlyList<int> threadIds)
    {
        var total = TimeSpan.Zero;
        foreach (var id in threadIds)
        {
            total += CpuTime($"/proc/{pid}/task/{id}/stat") ?? TimeSpan.Zero;
        }

        return total;
    }

    /// <summary>Each live thread of <paramref name="pid"/> with its name and utime + stime.</summary>
    public static IEnumerable<(string Name, TimeSpan Cpu)> ThreadsByName(int pid)
    {
        IEnumerable<string> tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var task in tasks)
        {
            string name;
            try
            {
                name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                continue;
            }

            if (CpuTime(Path.Combine(task, "stat")) is { } cpu)
            {
                yield return (name, cpu);
            }
        }
    }

    /// <summary>A kB field of /proc/PID/status such as <c>VmHWM</c> (peak resident set) or <c>VmRSS</c>, or null.</summary>
    public static long? StatusKb(int pid, string field)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/status");
        }
        catch (IOException)
        {
            return null;
        }

        foreach (var line in lines)
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var value = line[(field.Length + 1)..].Trim();
                var space = value.IndexOf(' ', StringComparison.Ordinal);
                return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>CPU time all processors spent busy since boot (every state of /proc/stat's cpu line but idle and iowait).</summary>
    public static TimeSpan MachineBusyTime()
    {
        var line = File.ReadLines("/proc/stat").First();
        var ticks = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
        var busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + (ticks.Length > 7 ? ticks[7] : 0);
        return TimeSpan.FromSeconds(busy / (double)TicksPerSecond);
    }

    /// <summary>The 1-minute load average.</summary>
    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>The CPU model of the first processor in /proc/cpuinfo.</summary>
    public static string CpuModel()
    {
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal))
            {
                return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }

        return "unknown";
    }
}
