import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { DomainError } from '@conveyor/errors';
import { RequireScopes } from '@conveyor/http';
import { ApiKeyService } from './api-key.service';
import { apiKeyView } from './api-key.view';
import { ApiKeyListView, CreatedApiKeyView } from './api-key-view.dto';
import { CreateApiKeyDto } from './create-api-key.dto';

/** Key management; the plain key is shown once, in the answer to POST. */
@Controller('v1/admin/keys')
@RequireScopes('admin')
export class AdminKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({ operationId: 'createApiKey' })
  @ApiResponse({ status: 201, type: CreatedApiKeyView })
  create(@Body() body: CreateApiKeyDto) {
    return this.keys.create(body.tenant, body.scopes, body.name);
  }

  @Get()
  @ApiOperation({ operationId: 'listApiKeys' })
  @ApiResponse({ status: 200, type: ApiKeyListView })
  async list() {
    return { keys: (await this.keys.list()).map(apiKeyView) };
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ operationId: 'revokeApiKey' })
  @ApiResponse({ status: 204, description: 'Revoked' })
  async revoke(@Param('id', new ParseUUIDPipe({ exceptionFactory: () => keyNotFound() })) id: string) {
    if (!(await this.keys.revoke(id))) throw keyNotFound();
  }
}

function keyNotFound(): DomainError {
  return DomainError.notFound('KEY_NOT_FOUND', 'No such live API key');
}
