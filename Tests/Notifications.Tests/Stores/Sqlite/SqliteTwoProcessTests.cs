using System.Diagnostics;
using System.Globalization;
using Notifications.Stores;

namespace Notifications.Tests.Stores.Sqlite;

/// <summary>
/// The Api and the worker are two processes writing one SQLite file. Two real processes
/// (Notifications.StoreWriter) write at the same time here, and every write must be there afterwards.
/// </summary>
public sealed class SqliteTwoProcessTests
{
    private const int AppendsPerWriter = 1_000;
    private const int SharedTasks = 10;
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task TwoProcesses_LoseNoWrite_WhenTheyWriteTheSameFileAtOnce()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(s_timeout);
        var ct = timeout.Token;
        var file = StoreHarness.NewSqliteFile();
        var goFile = Path.Combine(Path.GetDirectoryName(file)!, "go");

        using var a = StartWriter(file, "a", goFile);
        using var b = StartWriter(file, "b", goFile);
        try
        {
            await WaitForLineAsync(a, "ready", ct);
            await WaitForLineAsync(b, "ready", ct);
            await File.WriteAllTextAsync(goFile, "", ct);

            var doneA = ParseDone(await WaitForLineAsync(a, "done", ct));
            var doneB = ParseDone(await WaitForLineAsync(b, "done", ct));
            await a.WaitForExitAsync(ct);
            await b.WaitForExitAsync(ct);
            Assert.Equal(0, a.ExitCode);
            Assert.Equal(0, b.ExitCode);
            // Without overlapping write windows this test would prove nothing about concurrency.
            Assert.True(doneA.First < doneB.Last && doneB.First < doneA.Last,
                $"the writers did not overlap: a {doneA.First}..{doneA.Last}, b {doneB.First}..{doneB.Last}");

            await using var stores = await StoreHarness.StartSqliteAsync(file);
            var events = new List<DeliveryTimelineEntry>();
            for (var task = 0; task < SharedTasks; task++)
            {
                var record = await stores.DeliveryLog.GetAsync($"shared-task-{task}", ct);
                events.AddRange(record.Timeline);
                Assert.Equal(record.Timeline.Max(e => e.Attempt), record.Attempts);
            }
            var expected = new[] { "a", "b" }.SelectMany(w => Enumerable.Range(0, AppendsPerWriter).Select(i => $"{w}-{i}")).Order(StringComparer.Ordinal);
            Assert.Equal(expected, events.Select(e => e.ProviderMessageId!).Order(StringComparer.Ordinal));

            Assert.True(doneA.Students > 0 && doneB.Students > 0);
            Assert.Equal(doneA.Students + doneB.Students, (await stores.Students.ListAsync(new PageRequest(0, 1), ct)).Total);
        }
        finally
        {
            StopIfRunning(a);
            StopIfRunning(b);
        }
    }

    private static Process StartWriter(string file, string name, string goFile)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { WriterAssembly(), file, name, AppendsPerWriter.ToString(CultureInfo.InvariantCulture), SharedTasks.ToString(CultureInfo.InvariantCulture), goFile })
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
    }

    // The writer is built beside this project (ProjectReference without the assembly): same configuration and framework.
    private static string WriterAssembly()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var testsFolder = testOutput.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(testsFolder, "Notifications.StoreWriter", "bin", configuration, framework, "Notifications.StoreWriter.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build Tests/Notifications.StoreWriter first.", path);
    }

    private static async Task<string> WaitForLineAsync(Process process, string prefix, CancellationToken ct)
    {
        while (await process.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }
        var error = await process.StandardError.ReadToEndAsync(ct);
        throw new InvalidOperationException($"The writer ended before printing '{prefix}': {error}");
    }

    private static (long First, long Last, int Students) ParseDone(string line)
    {
        var parts = line.Split(' ');
        return (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), int.Parse(parts[3], CultureInfo.InvariantCulture));
    }

    private static void StopIfRunning(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
    }
}
