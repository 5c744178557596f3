using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;

// Each test starts the app in memory and asks it over HTTP, as a client would.
public class ApiTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    [Fact]
    public async Task Root_answers_with_the_greeting()
    {
        var greeting = await factory.CreateClient().GetFromJsonAsync<Greeting>("/");

        Assert.Equal("Hello from ASP.NET Core in a container!", greeting?.Message);
    }

    [Fact]
    public async Task Health_endpoint_says_healthy()
    {
        var answer = await factory.CreateClient().GetStringAsync("/healthz");

        Assert.Equal("Healthy", answer);
    }
}
