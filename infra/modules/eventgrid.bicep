// Event Grid topic the app publishes its Completed and Failed CloudEvents to. It takes the
// CloudEvents 1.0 schema as input (so events keep their id, source and traceparent end to end)
// and accepts only Entra ID-authenticated publishers.

@description('Name of the topic.')
param name string

@description('Region of the topic.')
param location string

@description('Tags of the topic.')
param tags object

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
