using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace NotificationWorker.Tests.Contracts;

/// <summary>
/// Stoplight Prism serving one of the providers' API documents on loopback: it answers a request that
/// matches the document with the document's example and refuses any other with a 4xx whose
/// <c>sl-violations</c> header names what is wrong. <c>.ci/install-prism</c> installs it.
/// </summary>
public sealed partial class PrismMock : IAsyncDisposable
{
    private readonly Process _process;

    private PrismMock(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    public static async Task<PrismMock> StartAsync(string document)
    {
        var prism = Environment.GetEnvironmentVariable("PRISM_BIN") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetEnvironmentVariable("PRISM_HOME") ?? "/opt/prism", "node_modules", ".bin", "prism");
        if (!File.Exists(prism))
        {
            throw new InvalidOperationException($"Prism is not installed at {prism}: run 'bash .ci/install-prism' (CI does).");
        }
        var info = new ProcessStartInfo(prism)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // --errors: an answer that breaks the document is an error too, not only a request that does.
        foreach (var arg in new[] { "mock", "--errors", "-h", "127.0.0.1", "-p", "0", Path.Combine(AppContext.BaseDirectory, "Contracts", document) })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Prism did not start.");
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (output)
            {
                output.AppendLine(line);
            }
            if (Listening().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            lock (output)
            {
                listening.TrySetException(new InvalidOperationException($"Prism exited before listening:\n{output}"));
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            // It listens about a second after it starts; a minute allows for a loaded machine.
            return new PrismMock(process, await listening.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Prism is listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();
}
