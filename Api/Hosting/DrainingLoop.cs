namespace Api.Hosting;

/// <summary>
/// A hosted loop over work that requests hand in and wait for (or rely on): at shutdown it takes no
/// more and finishes what it has taken, however soon after the start the stop comes.
/// </summary>
/// <remarks>
/// Not a BackgroundService: since .NET 10 that starts its loop with <c>Task.Run</c> on the stopping
/// token, so a stop that comes right after the start can keep the loop from ever running, and work
/// already handed in would never be done.
/// </remarks>
public abstract class DrainingLoop : IHostedService
{
    private Task _loop = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Takes no more work and waits until the work taken is done.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        CompleteIntake();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs until the intake is complete and empty.</summary>
    protected abstract Task RunAsync();

    /// <summary>Refuses further work (completes the channel's writer); <see cref="RunAsync"/> then ends once it is empty.</summary>
    protected abstract void CompleteIntake();
}

/// <summary>The Api is stopping and takes no more of this work: the caller should send it again (503).</summary>
public sealed class ShuttingDownException(string message) : Exception(message);
