using System.Text.Json;
using Api.Idempotency;
using Api.Problems;
using Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Api.Tests.Problems;

public sealed class ApiExceptionHandlerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AReusedIdempotencyKey_IsA422Problem()
    {
        await using var host = await ApiTestHost.StartAsync();
        using var scope = host.Services.CreateScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Response.Body = new MemoryStream();
        var handler = new ApiExceptionHandler(host.Service<IProblemDetailsService>());

        var handled = await handler.TryHandleAsync(context, new IdempotencyKeyReusedException("This Idempotency-Key was already used."), Ct);

        Assert.True(handled);
        Assert.Equal(StatusCodes.Status422UnprocessableEntity, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var problem = await JsonDocument.ParseAsync(context.Response.Body, cancellationToken: Ct);
        Assert.Equal("This Idempotency-Key was already used.", problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AnUnknownException_IsLeftToTheDefaultHandler()
    {
        await using var host = await ApiTestHost.StartAsync();
        var context = new DefaultHttpContext();
        var handler = new ApiExceptionHandler(host.Service<IProblemDetailsService>());

        Assert.False(await handler.TryHandleAsync(context, new InvalidOperationException("a bug"), Ct));
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }
}
